/** Issue 8 proof: 10^5 generated inputs against a live bridge (test/fuzz/bridge-fuzz.ts says what is checked). */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../fuzz/bridge-fuzz.ts';

describe('bridge fuzz', () => {
  it('stays up, answers only with valid coded messages, stays within its memory bound, and relays for a bystander', async () => {
    const report = await runFuzz({ inputs: Number(process.env.FUZZ_INPUTS ?? 100_000), seed: Number(process.env.FUZZ_SEED ?? 0x5eed) });
    expect(report.inputs).toBeGreaterThanOrEqual(100_000);
    expect(report.rawConnections).toBeGreaterThan(500);
    // The generator reaches the interesting answers, not only ERR_BAD_MESSAGE.
    for (const code of ['ERR_BAD_MESSAGE', 'ERR_BAD_FRAME', 'ERR_BAD_TARGET', 'ERR_TOO_MANY_STREAMS', 'ERR_POLICY_DENIED', 'ERR_UNKNOWN_ROUTE']) {
      expect(report.errorCodes[code] ?? 0, code).toBeGreaterThan(0);
    }
    expect(report.peakBufferedBytes).toBeLessThanOrEqual(report.bufferBound);
    // After a full GC at both ends: what is left is what the bridge (and this process's sessions) still hold.
    expect(report.heapGrowthBytes).toBeLessThan(report.memoryBound + 16 * 1024 * 1024);
    expect(report.witnessRoundTrips).toBe(report.sessions);
  }, 180_000);
});
