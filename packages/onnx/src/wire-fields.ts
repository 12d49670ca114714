/**
 * Reading the protocol buffer wire format of an ONNX model: a message's fields, where each lies,
 * and their strings. No dependency; `withoutOutputs` and `externalDataExtents` read models with it.
 */
import { ModelFormatError } from '@treespec/core';

/** One field of a protocol buffer message: its number, and where it and its payload lie. */
export interface WireField {
  readonly number: number;
  /** The whole field, key included. */
  readonly start: number;
  readonly end: number;
  /** Where a length-delimited field's payload starts (a varint's value, for a varint field). */
  readonly payloadStart: number;
}

/** The first string field `number` of a length-delimited message field; '' when it has none. */
export function firstString(bytes: Uint8Array, field: WireField, number: number): string {
  const found = wireFields(bytes, field.payloadStart, field.end).find((f) => f.number === number);
  return found ? text(bytes, found) : '';
}

const decoder = new TextDecoder();

export function text(bytes: Uint8Array, field: WireField): string {
  return decoder.decode(bytes.subarray(field.payloadStart, field.end));
}

/** The fields of the message in `bytes[start, end)`. */
export function wireFields(bytes: Uint8Array, start: number, end: number): WireField[] {
  const fields: WireField[] = [];
  let at = start;
  while (at < end) {
    const fieldStart = at;
    const [key, afterKey] = readVarint(bytes, at, end);
    const wireType = key % 8;
    let payloadStart = afterKey;
    if (wireType === 0) at = readVarint(bytes, afterKey, end)[1];
    else if (wireType === 1) at = afterKey + 8;
    else if (wireType === 5) at = afterKey + 4;
    else if (wireType === 2) {
      const [length, afterLength] = readVarint(bytes, afterKey, end);
      payloadStart = afterLength;
      at = afterLength + length;
    } else throw malformed(`wire type ${wireType} at byte ${fieldStart}`);
    if (at > end) throw malformed(`a field running past its message's end at byte ${fieldStart}`);
    fields.push({ number: Math.floor(key / 8), start: fieldStart, end: at, payloadStart });
  }
  return fields;
}

function readVarint(bytes: Uint8Array, start: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let at = start; at < end; at++) {
    const byte = bytes[at]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at + 1];
    scale *= 128;
  }
  throw malformed(`a varint running past its message's end at byte ${start}`);
}

function malformed(found: string): ModelFormatError {
  return new ModelFormatError(`expected an ONNX model (a protocol buffer message); found ${found}`);
}
