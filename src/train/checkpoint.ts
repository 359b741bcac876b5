// Crash-consistent checkpoints (ARCHITECTURE.md "Runs are the interface": one atomic commit point).
//
//   checkpoints/<id>/model.safetensors      the model (PyTorch state_dict keys)
//   checkpoints/<id>/optimizer.safetensors  optimizer tensors (+ its JSON metadata in state.json)
//   checkpoints/<id>/extra.safetensors      a stage's own state (queues, EMA weights), when it has any
//   checkpoints/<id>/best.safetensors       the best epoch's weights so far, when one was selected
//   checkpoints/<id>/state.json             where the run stands (stage, epoch, best, completed stages)
//   checkpoints/latest.json                 the manifest: which <id> is current, every file's size and sha256
//
// A save writes a complete new folder under a temporary name (every file fsynced), renames it into place,
// then replaces latest.json atomically (temp file, fsync, rename, fsync of the folder). That rename is the
// commit point: a kill at any instant leaves latest.json naming either the old checkpoint or the new one,
// both complete. Loading verifies every file against the manifest. Folders and temporaries that no manifest
// names (a save killed half-way) are removed when the run is opened again.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { z } from 'zod';
import type { Tensor } from '../engine';
import { parseSafetensors, serializeSafetensors } from '../engine/safetensors';
import { writeFileAtomic, writeFileSynced, fsyncDir } from '../util/fs';
import { faultPoint, FaultPoint } from '../util/fault';

const FileEntry = z.object({ bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const ManifestSchema = z
  .object({ format: z.literal(1), id: z.string().regex(/^[A-Za-z0-9_-]+$/), files: z.record(FileEntry) })
  .strict();
type Manifest = z.infer<typeof ManifestSchema>;

export const MANIFEST = 'latest.json';

/** What a save writes: tensors as safetensors files, `state` as state.json. */
export interface CheckpointContents {
  model: Record<string, Tensor>;
  optimizer?: Record<string, Tensor>;
  extra?: Record<string, Tensor>;
  state: unknown;
}

export class CheckpointError extends Error {}

export class CheckpointStore {
  /** The best weights selected since the last save (serialized when selected; written with the next save). */
  private pendingBest: Buffer | null = null;

  constructor(readonly dir: string) {}

  private manifestPath(): string {
    return path.join(this.dir, MANIFEST);
  }

  /** The current manifest, or null when the run has no checkpoint yet. */
  manifest(): Manifest | null {
    const file = this.manifestPath();
    if (!fs.existsSync(file)) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    const r = ManifestSchema.safeParse(raw);
    if (!r.success) throw new CheckpointError(`${file}: not a checkpoint manifest (${r.error.issues[0].message})`);
    return r.data;
  }

  /** The path of a file of the current checkpoint, or null when the checkpoint has none of that name. */
  file(name: string): string | null {
    const m = this.manifest();
    return m && m.files[name] ? path.join(this.dir, m.id, name) : null;
  }

  /** Reads and verifies (size and sha256) a file of the current checkpoint. */
  read(name: string): Buffer {
    const m = this.manifest();
    if (!m) throw new CheckpointError(`${this.dir}: no checkpoint (no ${MANIFEST})`);
    const entry = m.files[name];
    if (!entry) throw new CheckpointError(`${path.join(this.dir, m.id)}: checkpoint has no ${name}`);
    const file = path.join(this.dir, m.id, name);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (e) {
      throw new CheckpointError(`${file}: unreadable (${(e as Error).message})`);
    }
    if (buf.length !== entry.bytes || sha256(buf) !== entry.sha256) {
      throw new CheckpointError(`${file}: does not match ${this.manifestPath()} (size or sha256 differs)`);
    }
    return buf;
  }

  /** Loads a safetensors file of the current checkpoint (verified); the caller disposes the tensors. */
  loadTensors(name: string): Record<string, Tensor> {
    return parseSafetensors(this.read(name), this.file(name) ?? name).tensors;
  }

  /** Remembers `weights` as the best so far; the next save writes them as best.safetensors. */
  selectBest(weights: Record<string, Tensor>): void {
    this.pendingBest = serializeSafetensors(weights);
  }

  /** Writes a new checkpoint and commits it (see the header); removes the previous one. */
  save(id: string, c: CheckpointContents): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const prev = this.manifest();
    const tmpDir = path.join(this.dir, `${id}.tmp-${process.pid}`);
    fs.rmSync(tmpDir, { recursive: true, force: true });
    fs.mkdirSync(tmpDir);
    const files: Record<string, { bytes: number; sha256: string }> = {};
    const put = (name: string, data: Buffer) => {
      writeFileSynced(path.join(tmpDir, name), data);
      files[name] = { bytes: data.length, sha256: sha256(data) };
      faultPoint(`checkpoint:${name.replace(/\..*/, '')}` as FaultPoint);
    };
    put('model.safetensors', serializeSafetensors(c.model));
    if (c.optimizer) put('optimizer.safetensors', serializeSafetensors(c.optimizer));
    if (c.extra && Object.keys(c.extra).length > 0) put('extra.safetensors', serializeSafetensors(c.extra));
    if (this.pendingBest) put('best.safetensors', this.pendingBest);
    else if (prev?.files['best.safetensors']) put('best.safetensors', this.read('best.safetensors'));
    put('state.json', Buffer.from(JSON.stringify(c.state)));
    fsyncDir(tmpDir);
    faultPoint('checkpoint:synced');
    const finalDir = path.join(this.dir, id);
    if (prev?.id === id)
      throw new CheckpointError(`${finalDir}: the current checkpoint cannot be overwritten in place`);
    fs.rmSync(finalDir, { recursive: true, force: true }); // an uncommitted folder a killed save left
    fs.renameSync(tmpDir, finalDir);
    fsyncDir(this.dir);
    faultPoint('checkpoint:renamed');
    const manifest: Manifest = { format: 1, id, files };
    writeFileAtomic(this.manifestPath(), JSON.stringify(manifest, null, 1) + '\n'); // the commit point
    faultPoint('checkpoint:committed');
    this.pendingBest = null;
    this.removeStale();
  }

  /** Removes checkpoint folders and temporaries that the manifest does not name (killed saves). */
  removeStale(): void {
    if (!fs.existsSync(this.dir)) return;
    const current = this.manifest()?.id;
    for (const e of fs.readdirSync(this.dir, { withFileTypes: true })) {
      if (e.name === MANIFEST || e.name === current) continue;
      const stale = e.isDirectory() || /\.tmp-/.test(e.name);
      if (stale) fs.rmSync(path.join(this.dir, e.name), { recursive: true, force: true });
    }
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
