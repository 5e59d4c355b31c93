import type { Option } from 'commander';

/**
 * Returns the help description of an option, as commander 14 builds it, but
 * with the default also for an option whose default value is undefined and
 * described in words, such as "no limit". Commander prints a default only
 * when the value is defined.
 */
export function describeOption(option: Option): string {
  const extraInfo: string[] = [];
  if (option.argChoices !== undefined) {
    const choices = option.argChoices.map((choice) => JSON.stringify(choice));
    extraInfo.push(`choices: ${choices.join(', ')}`);
  }
  const takesValue = option.required || option.optional;
  if (takesValue && option.defaultValueDescription !== undefined) {
    extraInfo.push(`default: ${option.defaultValueDescription}`);
  } else if (takesValue && option.defaultValue !== undefined) {
    extraInfo.push(`default: ${JSON.stringify(option.defaultValue)}`);
  }
  if (option.envVar !== undefined) {
    extraInfo.push(`env: ${option.envVar}`);
  }
  if (extraInfo.length === 0) {
    return option.description;
  }

  const extra = `(${extraInfo.join(', ')})`;
  return option.description === '' ? extra : `${option.description} ${extra}`;
}
