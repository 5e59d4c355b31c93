/**
 * NATS subjects for zpub topic filters. A topic is its own subject, and a
 * filter `number` receives `number` and every topic under it, so it becomes
 * the two subjects `number` and `number.>`. No filter, or the empty filter,
 * becomes `>`.
 */
export function filtersToSubjects(filters: readonly string[]): string[] {
  if (filters.length === 0 || filters.includes('')) {
    return ['>'];
  }
  const subjects = new Set<string>();
  for (const filter of filters) {
    subjects.add(filter);
    subjects.add(`${filter}.>`);
  }

  return [...subjects];
}

/**
 * Returns true when `subject`, which has no wildcards, matches `pattern`,
 * which may use `*` for one token and a final `>` for one or more tokens.
 */
export function subjectMatches(subject: string, pattern: string): boolean {
  const tokens = subject.split('.');
  const patternTokens = pattern.split('.');
  for (const [index, patternToken] of patternTokens.entries()) {
    if (patternToken === '>') {
      return tokens.length > index;
    }
    const token = tokens[index];
    if (
      token === undefined ||
      (patternToken !== '*' && patternToken !== token)
    ) {
      return false;
    }
  }

  return tokens.length === patternTokens.length;
}
