// Runs the CLI in-process with its output captured (for tests). The capture goes through
// main()'s output sinks: a test file's process.stdout is the test runner's report channel and must
// never be patched.
import { main } from './main';

export async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  // main() leaves process.exitCode as it found it (the test runner's own), whatever the command reports.
  const code = await main(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}
