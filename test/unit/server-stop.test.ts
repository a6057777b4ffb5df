/**
 * How a sandbox server's log says it ended (src/sandbox/stopped-from-outside.ts): a shutdown request from outside,
 * the server's own failure, or nothing at all (killed outright).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readServerStop } from '../../src/sandbox/stopped-from-outside.js';

const at = (level: string, msg: string) => `2026-12-07 03:10:00.000 UTC [4242] 00000 ${level}:  ${msg}`;

describe('readServerStop', () => {
  it('killed outright: no request, no failure — the lost connections\' FATAL lines are no failure of the server', () => {
    const stop = readServerStop([at('LOG', 'database system is ready to accept connections'), at('FATAL', 'terminating connection due to unexpected postmaster exit')].join('\n'));
    assert.deepEqual(stop, { shutdownRequest: null, killedProcess: null, ownFailure: null });
  });

  it('pg_ctl stop: the request named', () => {
    for (const mode of ['smart', 'fast', 'immediate']) {
      const stop = readServerStop([at('LOG', `received ${mode} shutdown request`), at('FATAL', 'terminating connection due to administrator command'), at('LOG', 'database system is shut down')].join('\n'));
      assert.deepEqual(stop, { shutdownRequest: `received ${mode} shutdown request`, killedProcess: null, ownFailure: null });
    }
  });

  it('a server process killed with SIGKILL (the OOM killer): named, and no failure of the server', () => {
    const stop = readServerStop([at('LOG', 'server process (PID 77) was terminated by signal 9: Killed'), at('LOG', 'terminating any other active server processes'), at('LOG', 'all server processes terminated; reinitializing')].join('\n'));
    assert.deepEqual(stop, { shutdownRequest: null, killedProcess: 'server process (PID 77) was terminated by signal 9: Killed', ownFailure: null });
  });

  it('the server\'s own failure: a PANIC, a server process that crashed or exited', () => {
    assert.equal(readServerStop(at('PANIC', 'could not write to file "pg_wal/xlogtemp.1": No space left on device')).ownFailure, 'PANIC: could not write to file "pg_wal/xlogtemp.1": No space left on device');
    assert.equal(readServerStop(at('LOG', 'server process (PID 77) was terminated by signal 11: Segmentation fault')).ownFailure, 'server process (PID 77) was terminated by signal 11: Segmentation fault');
    assert.equal(readServerStop(at('LOG', 'checkpointer process (PID 78) exited with exit code 2')).ownFailure, 'checkpointer process (PID 78) exited with exit code 2');
  });
});
