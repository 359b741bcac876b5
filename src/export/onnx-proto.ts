// ONNX's protobuf messages, written with ./protobuf.ts. Field numbers and enum values are those of
// onnx/onnx `onnx/onnx.proto3` (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto, StringStringEntryProto); onnx.proto (proto2)
// has the same numbers. Repeated scalars (dims, ints) are written unpacked, one tag per element, as onnx.proto
// declares them; protobuf parsers accept either form.
import { Message, readFields, decodeString, Field } from './protobuf';

/** TensorProto.DataType. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType. */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

/** A node attribute: an integer number is INT, `{float: x}` FLOAT, a string STRING, a number[] INTS. */
export type Attrs = Record<string, AttrValue>;

export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attrs?: Attrs;
  docString?: string;
}

export interface TensorSpec {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  /** Little-endian element bytes (TensorProto.raw_data). */
  raw: Uint8Array;
}

export interface ValueInfoSpec {
  name: string;
  elemType: DataTypeCode;
  /** A number is a fixed size; a string a symbolic one (dim_param, e.g. 'batch'). */
  shape: (number | string)[];
  docString?: string;
}

export interface ModelSpec {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  graphName: string;
  nodes: NodeSpec[];
  initializers: TensorSpec[];
  inputs: ValueInfoSpec[];
  outputs: ValueInfoSpec[];
  metadata: Record<string, string>;
}

function attribute(name: string, v: AttrValue): Message {
  const m = new Message().string(1, name); // name = 1
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`ONNX attribute ${name}: ${v} is not an integer (use {float: v})`);
    m.varint(3, v).varint(20, AttrType.INT); // i = 3, type = 20
  } else if (typeof v === 'string')
    m.string(4, v).varint(20, AttrType.STRING); // s = 4
  else if (Array.isArray(v)) {
    for (const x of v) m.varint(8, x); // ints = 8
    m.varint(20, AttrType.INTS);
  } else if ('float' in v)
    m.float(2, v.float).varint(20, AttrType.FLOAT); // f = 2
  else {
    for (const x of v.floats) m.float(7, x); // floats = 7
    m.varint(20, AttrType.FLOATS);
  }
  return m;
}

function node(n: NodeSpec): Message {
  const m = new Message();
  for (const i of n.inputs) m.string(1, i); // input = 1
  for (const o of n.outputs) m.string(2, o); // output = 2
  if (n.name) m.string(3, n.name); // name = 3
  m.string(4, n.opType); // op_type = 4
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.message(5, attribute(k, v)); // attribute = 5
  if (n.docString) m.string(6, n.docString); // doc_string = 6
  return m;
}

function tensorProto(t: TensorSpec): Message {
  const m = new Message();
  for (const d of t.dims) m.varint(1, d); // dims = 1
  m.varint(2, t.dataType); // data_type = 2
  m.string(8, t.name); // name = 8
  m.bytes(9, t.raw); // raw_data = 9
  return m;
}

function valueInfo(v: ValueInfoSpec): Message {
  const shape = new Message();
  for (const d of v.shape) {
    // TensorShapeProto.dim = 1; Dimension.dim_value = 1 | dim_param = 2
    shape.message(1, typeof d === 'number' ? new Message().varint(1, d) : new Message().string(2, d));
  }
  const tensorType = new Message().varint(1, v.elemType).message(2, shape); // elem_type = 1, shape = 2
  const type = new Message().message(1, tensorType); // TypeProto.tensor_type = 1
  const m = new Message().string(1, v.name).message(2, type); // name = 1, type = 2
  if (v.docString) m.string(3, v.docString); // doc_string = 3
  return m;
}

/** The encoded ModelProto. */
export function encodeModel(s: ModelSpec): Uint8Array {
  const graph = new Message();
  for (const n of s.nodes) graph.message(1, node(n)); // node = 1
  graph.string(2, s.graphName); // name = 2
  for (const t of s.initializers) graph.message(5, tensorProto(t)); // initializer = 5
  for (const v of s.inputs) graph.message(11, valueInfo(v)); // input = 11
  for (const v of s.outputs) graph.message(12, valueInfo(v)); // output = 12

  const model = new Message();
  model.varint(1, s.irVersion); // ir_version = 1
  model.string(2, s.producerName); // producer_name = 2
  model.string(3, s.producerVersion); // producer_version = 3
  if (s.docString) model.string(6, s.docString); // doc_string = 6
  model.message(7, graph); // graph = 7
  model.message(8, new Message().string(1, '').varint(2, s.opsetVersion)); // opset_import = 8 {domain, version}
  for (const [k, v] of Object.entries(s.metadata)) model.message(14, new Message().string(1, k).string(2, v)); // metadata_props
  return model.finish();
}

/** What `readOnnxModel` finds in a file: the header, the metadata and the graph's outline. */
export interface OnnxModelInfo {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  graphName: string;
  /** op_type of each node, in graph order. */
  ops: string[];
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
  initializers: { name: string; dims: number[]; dataType: number }[];
}

const all = (fs: Field[], n: number) => fs.filter((f) => f.field === n);
const one = (fs: Field[], n: number) => fs.find((f) => f.field === n);

function readValueInfo(b: Uint8Array): { name: string; shape: (number | string)[] } {
  const f = readFields(b);
  const shape: (number | string)[] = [];
  const type = one(f, 2)?.bytes;
  const tensorType = type && one(readFields(type), 1)?.bytes;
  const shapeMsg = tensorType && one(readFields(tensorType), 2)?.bytes;
  if (shapeMsg) {
    for (const d of all(readFields(shapeMsg), 1)) {
      const df = readFields(d.bytes!);
      const v = one(df, 1);
      shape.push(v?.varint !== undefined ? Number(v.varint) : decodeString(one(df, 2)?.bytes));
    }
  }
  return { name: decodeString(one(f, 1)?.bytes), shape };
}

/** Decodes the parts of a ModelProto that a reader of ltkit's files checks (tensor data is not decoded). */
export function readOnnxModel(bytes: Uint8Array): OnnxModelInfo {
  const f = readFields(bytes);
  const graph = readFields(one(f, 7)?.bytes ?? new Uint8Array(0));
  const metadata: Record<string, string> = {};
  for (const e of all(f, 14)) {
    const kv = readFields(e.bytes!);
    metadata[decodeString(one(kv, 1)?.bytes)] = decodeString(one(kv, 2)?.bytes);
  }
  return {
    irVersion: Number(one(f, 1)?.varint ?? 0n),
    producerName: decodeString(one(f, 2)?.bytes),
    producerVersion: decodeString(one(f, 3)?.bytes),
    opsets: all(f, 8).map((o) => {
      const of = readFields(o.bytes!);
      return { domain: decodeString(one(of, 1)?.bytes), version: Number(one(of, 2)?.varint ?? 0n) };
    }),
    metadata,
    graphName: decodeString(one(graph, 2)?.bytes),
    ops: all(graph, 1).map((n) => decodeString(one(readFields(n.bytes!), 4)?.bytes)),
    inputs: all(graph, 11).map((v) => readValueInfo(v.bytes!)),
    outputs: all(graph, 12).map((v) => readValueInfo(v.bytes!)),
    initializers: all(graph, 5).map((t) => {
      const tf = readFields(t.bytes!);
      return {
        name: decodeString(one(tf, 8)?.bytes),
        dims: all(tf, 1).map((d) => Number(BigInt.asIntN(64, d.varint!))),
        dataType: Number(one(tf, 2)?.varint ?? 0n),
      };
    }),
  };
}
