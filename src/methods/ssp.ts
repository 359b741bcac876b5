// Self-supervised pre-training as a recipe component (S1 §4): `ssp-rotation+ldam+drw` first pre-trains the
// run's network on the same training images without labels (a separate run under <outDir>/pretrain/, made
// once and reused by every run with the same data, model and pre-training settings), then trains the recipe
// from its backbone with a fresh head. The pretext tasks themselves are in src/ssp/.
import { register } from './registry';
import { PRETEXT_METHODS } from '../ssp/names';

for (const method of PRETEXT_METHODS) {
  register({
    name: `ssp-${method}`,
    slot: 'pretrain',
    help: `start from a ${method} pre-trained backbone (S1 §4; pretrain.* settings; reused when already trained)`,
    options: {},
    build: () => ({ pretrain: method }),
  });
}
