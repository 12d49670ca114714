import { describe, expect, it } from 'vitest';
import { ContextOverflowError, OptionError } from '../src/errors.js';
import {
  requireBoolean,
  requireOneOf,
  requirePromptFits,
  requireSignal,
  requireTreeShape,
} from '../src/validate.js';

function optionError(run: () => unknown): OptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof OptionError) return error;
    throw error;
  }
  throw new Error('expected an OptionError');
}

describe('option checks', () => {
  it('requireBoolean takes a boolean or nothing and names the option otherwise', () => {
    expect(requireBoolean('spinning', true)).toBe(true);
    expect(requireBoolean('spinning', undefined)).toBeUndefined();
    const error = optionError(() => requireBoolean('spinning', 'yes'));
    expect(error.option).toBe('spinning');
    expect(error.message).toMatch(/true or false/);
  });

  it('requireTreeShape takes an object, null or nothing; refuses arrays and scalars', () => {
    expect(() => requireTreeShape('tree', { depth: 2 })).not.toThrow();
    expect(() => requireTreeShape('tree', null)).not.toThrow();
    expect(() => requireTreeShape('tree', undefined)).not.toThrow();
    for (const bad of [[2, 3], 'deep', 4]) {
      expect(optionError(() => requireTreeShape('draftTree', bad)).option).toBe('draftTree');
    }
  });

  it('says that an option was left out rather than "got undefined"', () => {
    expect(new OptionError('modelDir', undefined, 'a directory').message).toBe(
      'option "modelDir" must be a directory; none was given',
    );
    expect(new OptionError('modelDir', null, 'a directory').message).toMatch(/; got null$/);
  });

  it('requireOneOf lists what is allowed', () => {
    expect(requireOneOf('mode', 'a', ['a', 'b'])).toBe('a');
    expect(optionError(() => requireOneOf('mode', 'c', ['a', 'b'])).message).toMatch(/"a", "b"/);
  });

  it('requireSignal takes a signal or nothing, not its controller', () => {
    const controller = new AbortController();
    expect(requireSignal('signal', controller.signal)).toBe(controller.signal);
    expect(requireSignal('signal', null)).toBeUndefined();
    expect(optionError(() => requireSignal('signal', controller)).option).toBe('signal');
  });

  it('requirePromptFits throws ContextOverflowError with both lengths', () => {
    expect(() => requirePromptFits(8, 8)).not.toThrow();
    try {
      requirePromptFits(9, 8);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ContextOverflowError);
      expect((error as ContextOverflowError).needed).toBe(9);
      expect((error as ContextOverflowError).limit).toBe(8);
    }
  });
});
