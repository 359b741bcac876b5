// The pretext tasks of self-supervised pre-training (ssp/pretext.ts implements them; the config lists them).
export const PRETEXT_METHODS = ['rotation', 'moco'] as const;
export type PretextMethod = (typeof PRETEXT_METHODS)[number];
