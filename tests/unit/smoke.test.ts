import { describe, expect, it } from 'vitest';
import { ChatError, ErrorCode, isChatError } from '../../client/src/core/errors.ts';

describe('errors', () => {
  it('carry a stable code the UI can translate', () => {
    const e = new ChatError(ErrorCode.Replay, 'replayed frame');
    expect(isChatError(e, ErrorCode.Replay)).toBe(true);
    expect(isChatError(e, ErrorCode.Decrypt)).toBe(false);
  });
});
