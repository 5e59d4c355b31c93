import {
  InvalidTopicError,
  assertTopicFilter,
  matchesFilter,
} from '@zpub/protocol';
import { FIELD_PATH, fieldText, fieldValue } from './fields.js';
import {
  FilterError,
  parseDuration,
  parseMethods,
  parseRoutePattern,
  parseStatusSpec,
  requestData,
  type EventPredicate,
} from './filters.js';

/** An invalid --expect expression, with the reason in the message. */
export class ExpectationError extends Error {
  override readonly name = 'ExpectationError';
}

type Operator = '>=' | '<=' | '!=' | '=' | '>' | '<';

interface Term {
  text: string;
  field: string;
  operator: Operator;
  value: string;
}

/**
 * Compiles an --expect expression: terms separated by spaces, all of which
 * must hold. A term is FIELD OPERATOR VALUE with one of the operators `=`,
 * `!=`, `>`, `>=`, `<` and `<=`. `topic`, `method`, `route`, `path`,
 * `status` and `duration` read request events as the filters of the same
 * names do. Any other field is a path into the event, compared as text for
 * `=` and `!=` and as a number otherwise. Throws {@link ExpectationError}.
 */
export function compileExpectation(expression: string): EventPredicate {
  const words = expression.split(/\s+/).filter((word) => word.length > 0);
  if (words.length === 0) {
    throw new ExpectationError(
      'Expected at least one term, such as status=500 or topic=deploy.done.',
    );
  }
  const predicates = words.map((word) => {
    const term = parseTerm(word);
    try {
      return compileTerm(term);
    } catch (error) {
      if (error instanceof FilterError || error instanceof InvalidTopicError) {
        throw new ExpectationError(`Term "${word}": ${error.message}`);
      }
      throw error;
    }
  });

  return (event) => predicates.every((predicate) => predicate(event));
}

function parseTerm(text: string): Term {
  const match = /^([^=!<>]+)(>=|<=|!=|=|>|<)(.*)$/.exec(text);
  const field = match?.[1];
  const operator = match?.[2] as Operator | undefined;
  const value = match?.[3];
  if (
    field === undefined ||
    operator === undefined ||
    value === undefined ||
    value === ''
  ) {
    throw new ExpectationError(
      `Term "${text}" is not FIELD OPERATOR VALUE, such as status=500, duration>250ms or data.number=7.`,
    );
  }
  if (!FIELD_PATH.test(field)) {
    throw new ExpectationError(
      `Term "${text}": invalid field "${field}", expected a path such as topic or data.status.`,
    );
  }

  return { text, field, operator, value };
}

function compileTerm(term: Term): EventPredicate {
  switch (term.field) {
    case 'topic':
      return compileTopicTerm(term);
    case 'method':
      return compileMethodTerm(term);
    case 'route':
    case 'path':
      return compileRouteTerm(term);
    case 'status':
      return compileStatusTerm(term);
    case 'duration':
      return compileDurationTerm(term);
    default:
      return compileFieldTerm(term);
  }
}

/** Applies `!=` as the negation of `=`, and rejects any other operator. */
function equality(term: Term, matches: EventPredicate): EventPredicate {
  if (term.operator === '=') {
    return matches;
  }
  if (term.operator === '!=') {
    return (event) => !matches(event);
  }

  throw new ExpectationError(
    `Term "${term.text}": ${term.field} takes only = and !=.`,
  );
}

function compileTopicTerm(term: Term): EventPredicate {
  assertTopicFilter(term.value);

  return equality(term, (event) =>
    matchesFilter(event.topic ?? '', term.value),
  );
}

function compileMethodTerm(term: Term): EventPredicate {
  const methods = parseMethods(term.value);

  return equality(term, (event) => {
    const data = requestData(event);
    return data !== undefined && methods.includes(data.method.toUpperCase());
  });
}

function compileRouteTerm(term: Term): EventPredicate {
  const pattern = parseRoutePattern(term.value);
  const onlyPath = term.field === 'path';

  return equality(term, (event) => {
    const data = requestData(event);
    if (data === undefined) {
      return false;
    }
    return onlyPath ? pattern.matches(data.path) : pattern.matchesRequest(data);
  });
}

function compileStatusTerm(term: Term): EventPredicate {
  // `status>=500` reads as the specification `>=500`, so every operator but
  // `!=` goes into it.
  const specText =
    term.operator === '=' || term.operator === '!='
      ? term.value
      : `${term.operator}${term.value}`;
  const spec = parseStatusSpec(specText);
  const matches: EventPredicate = (event) => {
    const data = requestData(event);
    return data !== undefined && spec.matches(data.status);
  };

  return term.operator === '!=' ? (event) => !matches(event) : matches;
}

function compileDurationTerm(term: Term): EventPredicate {
  const milliseconds = parseDuration(term.value);
  const compare = numericComparison(term.operator, milliseconds);

  return (event) => {
    const data = requestData(event);
    return data !== undefined && compare(data.durationMs);
  };
}

function compileFieldTerm(term: Term): EventPredicate {
  if (term.operator === '=' || term.operator === '!=') {
    return equality(
      term,
      (event) => fieldText(fieldValue(event, term.field)) === term.value,
    );
  }

  const bound = Number(term.value);
  if (!Number.isFinite(bound)) {
    throw new ExpectationError(
      `Term "${term.text}": ${term.operator} needs a number, got "${term.value}".`,
    );
  }
  const compare = numericComparison(term.operator, bound);

  return (event) => {
    const value = fieldValue(event, term.field);
    return typeof value === 'number' && compare(value);
  };
}

function numericComparison(
  operator: Operator,
  bound: number,
): (value: number) => boolean {
  switch (operator) {
    case '=':
      return (value) => value === bound;
    case '!=':
      return (value) => value !== bound;
    case '>':
      return (value) => value > bound;
    case '>=':
      return (value) => value >= bound;
    case '<':
      return (value) => value < bound;
    case '<=':
      return (value) => value <= bound;
  }
}
