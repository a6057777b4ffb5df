/**
 * node-postgres speaks UTF-8 only: it decodes every string the server sends as UTF-8 (an invalid byte becomes
 * U+FFFD) and encodes every string it sends as UTF-8. On a SQL_ASCII database that is lossy — a name stored in
 * LATIN1 bytes could neither be read nor written back into a query — and the server itself refuses to send it to a
 * UTF8 client ("invalid byte sequence for encoding UTF8"). So a session whose server reports
 * `server_encoding = SQL_ASCII` switches, for the rest of its life, to the lossless codec of server-bytes.ts in both
 * directions; DbSession.open then sets `client_encoding = SQL_ASCII` (the server sends and takes bytes unconverted
 * and unchecked). Sessions to any other server are left exactly as node-postgres makes them.
 *
 * It works on node-postgres' own objects: the connection's `attachListeners` (to own the protocol parser, whose
 * reader decodes the strings) and its `query`/`parse`/`bind` (the three messages that carry pgdrill's text). The
 * shapes used are pg 8's and pg-protocol 1's; test/fidelity/sql-ascii.test.ts proves it on a real server.
 */
import type { EventEmitter } from 'node:events';
import type pg from 'pg';
import { Parser } from 'pg-protocol/dist/parser.js';
import { decodeServerBytes, encodeServerText } from './server-bytes.js';

/** pg-protocol's BufferReader, as far as used here. */
interface Reader {
  encoding: BufferEncoding;
  string(length: number): string;
  cstring(): string;
}

interface BindConfig {
  readonly portal?: string;
  readonly statement?: string;
  readonly binary?: boolean;
  readonly values?: readonly unknown[];
  /** node-postgres' prepareValue: a parameter as text (or a Buffer, sent binary), null for NULL. */
  readonly valueMapper?: (value: unknown, index: number) => string | Buffer | null | undefined;
}

/** node-postgres' Connection, as far as used here. */
interface WireConnection {
  attachListeners(stream: EventEmitter): void;
  emit(event: string, msg: unknown): boolean;
  readonly _emitMessage?: boolean;
  query(text: string): void;
  parse(query: { readonly name?: string; readonly text: string; readonly types?: readonly number[] }): void;
  bind(config: BindConfig): void;
  _send(buffer: Buffer): boolean;
}

/** Whether a session reads and writes bytes (its server is SQL_ASCII); known once connected. */
export interface ByteWire {
  readonly bytes: boolean;
}

const cstring = (s: string) => Buffer.concat([encodeServerText(s), Buffer.of(0)]);
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** One frontend message: its type byte, its length (itself included), its body. */
function message(code: string, parts: readonly Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(code, 'latin1'), int32(body.length + 4), body]);
}

/** Bind with text parameters as server bytes; a Buffer parameter goes in binary format, as node-postgres sends it. */
function bindMessage(c: BindConfig): Buffer {
  const values = (c.values ?? []).map((v, i) => (c.valueMapper ? c.valueMapper(v, i) : v == null || Buffer.isBuffer(v) ? v : typeof v === 'string' ? v : JSON.stringify(v)));
  const formats = values.map((v) => int16(Buffer.isBuffer(v) ? 1 : 0));
  const data = values.map((v) => {
    if (v == null) return int32(-1);
    const b = Buffer.isBuffer(v) ? v : encodeServerText(v);
    return Buffer.concat([int32(b.length), b]);
  });
  return message('B', [cstring(c.portal ?? ''), cstring(c.statement ?? ''), int16(values.length), ...formats, int16(values.length), ...data, int16(1), int16(c.binary ? 1 : 0)]);
}

/** From now on: strings from the server are decoded, and pgdrill's text encoded, as server bytes. */
function switchToBytes(conn: WireConnection, reader: Reader): void {
  reader.encoding = 'latin1'; // one char per byte: exactly the bytes, decoded below
  const readString = reader.string.bind(reader);
  const readCString = reader.cstring.bind(reader);
  const fromLatin1 = (s: string) => (/[\x80-\xff]/.test(s) ? decodeServerBytes(Buffer.from(s, 'latin1')) : s);
  reader.string = (length) => fromLatin1(readString(length));
  reader.cstring = () => fromLatin1(readCString());
  conn.query = (text) => void conn._send(message('Q', [cstring(text)]));
  conn.parse = (q) => void conn._send(message('P', [cstring(q.name ?? ''), cstring(q.text), int16(q.types?.length ?? 0), ...(q.types ?? []).map(int32)]));
  conn.bind = (c) => void conn._send(bindMessage(c));
}

/**
 * Before `client.connect()`: take over the connection's protocol parser, and switch the session to bytes when the
 * server announces `server_encoding SQL_ASCII` (a ParameterStatus of the startup, before any query).
 */
export function attachByteWire(client: pg.Client): ByteWire {
  const conn = (client as unknown as { connection: WireConnection }).connection;
  const wire = { bytes: false };
  conn.attachListeners = (stream) => {
    const parser = new Parser();
    const reader = (parser as unknown as { reader: Reader }).reader;
    stream.on('data', (buffer: Buffer) =>
      parser.parse(buffer, (msg) => {
        const status = msg as { name: string; parameterName?: string; parameterValue?: string };
        if (!wire.bytes && status.name === 'parameterStatus' && status.parameterName === 'server_encoding' && status.parameterValue === 'SQL_ASCII') {
          wire.bytes = true;
          switchToBytes(conn, reader);
        }
        // what node-postgres' own attachListeners does with each message
        if (conn._emitMessage) conn.emit('message', msg);
        conn.emit(msg.name === 'error' ? 'errorMessage' : msg.name, msg);
      }),
    );
  };
  return wire;
}
