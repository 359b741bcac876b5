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

/**
 * `--set` values of a tiny run (synthetic data, resnet8, 2 epochs × 1 step, so DRW/DRS switch at epoch
 * floor(0.8·2) = 1; one-epoch classifier stages) writing under `outDir`.
 */
export function tinyRunSets(outDir: string): string[] {
  return [
    'data.dataset=synthetic',
    'data.synthetic.size=8',
    'data.synthetic.numClasses=4',
    'data.synthetic.imgMax=24',
    'data.synthetic.testPerClass=4',
    'model.name=resnet8',
    'train.batchSize=8',
    'train.epochs=2',
    'train.maxStepsPerEpoch=1',
    'train.progress=off',
    'schedule.warmupEpochs=1',
    'method.crt.epochs=1',
    'method.lws.epochs=1',
    'method.tauNorm.taus=[0,0.5,1]',
    `outDir=${outDir}`,
  ];
}
