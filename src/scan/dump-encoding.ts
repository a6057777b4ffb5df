/**
 * The character encoding of a dump's text. pg_dump writes `SET client_encoding = '…'` near the top (the server's
 * encoding unless `--encoding` said otherwise) and every byte after it is in that encoding: names in `-- Name:`
 * headers, identifiers in statements. The scanner decodes SQL text with the decoder chosen here (COPY data is never
 * decoded: it is counted on bytes).
 *
 * Every server encoding PostgreSQL has is ASCII-safe (a byte below 0x80 is always that ASCII character), so the
 * lexer works the same on any of them once decoded. SQL_ASCII declares no encoding at all: it is read as pgdrill's
 * sessions read a SQL_ASCII database (src/pg/server-bytes.ts: valid UTF-8 as characters, any other byte kept as an
 * escape, shown `\xNN`), so that a name in the dump and the same name in the catalog are the same string. Encodings
 * Node cannot decode (a few rare ones) are read byte for byte (one char per byte, U+0000–U+00FF: nothing lost), and
 * names from them are shown with `\xNN` escapes (`displayName`) instead of a guessed character.
 */
import { StringDecoder } from 'node:string_decoder';
import { serverBytesDecoder, showBytes } from '../pg/server-bytes.js';

/** A streaming decoder: `write` bytes cut anywhere (a character split across chunks is kept for the next call). */
export interface DumpTextDecoder {
  write(bytes: Buffer): string;
  /** The rest of an incomplete character (as U+FFFD), and a reset. */
  end(): string;
}

/** How a dump's text is decoded. */
export interface DumpEncoding {
  /** PostgreSQL's canonical name: 'UTF8', 'LATIN1', 'SQL_ASCII', 'EUC_JP', 'WIN1252', … */
  readonly name: string;
  /** True when bytes ≥ 0x80 are characters we know; false for SQL_ASCII (no declared encoding) and encodings read byte for byte. */
  readonly decoded: boolean;
  /** A fresh streaming decoder for it. */
  decoder(): DumpTextDecoder;
}

// PostgreSQL's encoding names (and the aliases pg_char_to_encoding accepts), normalised as PostgreSQL does: lower
// case, non-alphanumerics removed. Value: the canonical name and the WHATWG label Node's TextDecoder knows, or
// 'bytes' (read byte for byte), 'latin1' (ISO 8859-1 is exactly bytes → U+0000–U+00FF; WHATWG's "latin1" label
// would be windows-1252, which is not), 'latin5' (ISO 8859-9: WHATWG maps the label to windows-1254).
const ENCODINGS: Record<string, readonly [canonical: string, label: string]> = {
  utf8: ['UTF8', 'utf-8'], unicode: ['UTF8', 'utf-8'],
  sqlascii: ['SQL_ASCII', 'server-bytes'],
  latin1: ['LATIN1', 'latin1'], iso88591: ['LATIN1', 'latin1'],
  latin2: ['LATIN2', 'iso-8859-2'], iso88592: ['LATIN2', 'iso-8859-2'],
  latin3: ['LATIN3', 'iso-8859-3'], iso88593: ['LATIN3', 'iso-8859-3'],
  latin4: ['LATIN4', 'iso-8859-4'], iso88594: ['LATIN4', 'iso-8859-4'],
  latin5: ['LATIN5', 'latin5'], iso88599: ['LATIN5', 'latin5'],
  latin6: ['LATIN6', 'iso-8859-10'], iso885910: ['LATIN6', 'iso-8859-10'],
  latin7: ['LATIN7', 'iso-8859-13'], iso885913: ['LATIN7', 'iso-8859-13'],
  latin8: ['LATIN8', 'iso-8859-14'], iso885914: ['LATIN8', 'iso-8859-14'],
  latin9: ['LATIN9', 'iso-8859-15'], iso885915: ['LATIN9', 'iso-8859-15'],
  latin10: ['LATIN10', 'bytes'], iso885916: ['LATIN10', 'bytes'], // Node has no ISO 8859-16 decoder
  iso88595: ['ISO_8859_5', 'iso-8859-5'],
  iso88596: ['ISO_8859_6', 'iso-8859-6'],
  iso88597: ['ISO_8859_7', 'iso-8859-7'],
  iso88598: ['ISO_8859_8', 'iso-8859-8'],
  win866: ['WIN866', 'ibm866'], alt: ['WIN866', 'ibm866'], cp866: ['WIN866', 'ibm866'],
  win874: ['WIN874', 'windows-874'], cp874: ['WIN874', 'windows-874'],
  koi8: ['KOI8R', 'koi8-r'], koi8r: ['KOI8R', 'koi8-r'],
  koi8u: ['KOI8U', 'koi8-u'],
  eucjp: ['EUC_JP', 'euc-jp'],
  eucjis2004: ['EUC_JIS_2004', 'bytes'], // JIS X 0213 has characters WHATWG's euc-jp lacks
  euccn: ['EUC_CN', 'gbk'], // GB 2312 in EUC form: a subset of GBK
  euckr: ['EUC_KR', 'euc-kr'],
  euctw: ['EUC_TW', 'bytes'],
  mule: ['MULE_INTERNAL', 'bytes'], muleinternal: ['MULE_INTERNAL', 'bytes'],
  // Client-only encodings (pg_dump --encoding): the scanner refuses them anyway (statement-analyzer.ts), since
  // their second bytes can be `\` or `'`; decoding them still shows their names right.
  sjis: ['SJIS', 'shift_jis'], shiftjis: ['SJIS', 'shift_jis'], mskanji: ['SJIS', 'shift_jis'], win932: ['SJIS', 'shift_jis'], cp932: ['SJIS', 'shift_jis'],
  shiftjis2004: ['SHIFT_JIS_2004', 'bytes'],
  big5: ['BIG5', 'big5'], win950: ['BIG5', 'big5'], cp950: ['BIG5', 'big5'],
  gbk: ['GBK', 'gbk'], win936: ['GBK', 'gbk'], cp936: ['GBK', 'gbk'],
  gb18030: ['GB18030', 'gb18030'],
  uhc: ['UHC', 'euc-kr'], win949: ['UHC', 'euc-kr'], cp949: ['UHC', 'euc-kr'], // WHATWG's euc-kr is windows-949
  johab: ['JOHAB', 'bytes'],
};
for (const n of [1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258]) {
  ENCODINGS[`win${n}`] = [`WIN${n}`, `windows-${n}`];
  ENCODINGS[`cp${n}`] = [`WIN${n}`, `windows-${n}`];
}

/** ISO 8859-9 is ISO 8859-1 but for six letters. */
const LATIN5_DIFF: Record<number, string> = { 0xd0: '\u011e', 0xdd: '\u0130', 0xde: '\u015e', 0xf0: '\u011f', 0xfd: '\u0131', 0xfe: '\u015f' };

/** Normalise an encoding name as PostgreSQL's pg_char_to_encoding does (case and punctuation ignored). */
function normalise(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function byteDecoder(map?: Record<number, string>): DumpTextDecoder {
  return {
    write: (b) => {
      const s = b.toString('latin1');
      return map ? s.replace(/[\u00d0\u00dd\u00de\u00f0\u00fd\u00fe]/g, (c) => map[c.charCodeAt(0)] ?? c) : s;
    },
    end: () => '',
  };
}

function whatwgDecoder(label: string): DumpTextDecoder {
  const d = new TextDecoder(label);
  return { write: (b) => d.decode(b, { stream: true }), end: () => d.decode() };
}

function utf8Decoder(): DumpTextDecoder {
  const d = new StringDecoder('utf8');
  return { write: (b) => d.write(b), end: () => d.end() };
}

/** UTF8: what a dump without `SET client_encoding` (and every dump of a UTF8 database) is in. */
export const UTF8: DumpEncoding = { name: 'UTF8', decoded: true, decoder: utf8Decoder };

/** SQL_ASCII: what pgdrill's sessions to a SQL_ASCII database read (decodeServerBytes). */
export const SQL_ASCII: DumpEncoding = { name: 'SQL_ASCII', decoded: false, decoder: serverBytesDecoder };

/**
 * The decoding of a PostgreSQL encoding name as `SET client_encoding` writes it (any case, aliases accepted).
 * An unknown name is read byte for byte (`decoded` false), keeping `name` upper-cased as given.
 */
export function dumpEncoding(pgName: string): DumpEncoding {
  const entry = ENCODINGS[normalise(pgName)];
  if (!entry) return { name: pgName.toUpperCase(), decoded: false, decoder: () => byteDecoder() };
  const [name, label] = entry;
  if (label === 'utf-8') return UTF8;
  if (label === 'server-bytes') return SQL_ASCII;
  if (label === 'bytes') return { name, decoded: false, decoder: () => byteDecoder() };
  if (label === 'latin1') return { name, decoded: true, decoder: () => byteDecoder() };
  if (label === 'latin5') return { name, decoded: true, decoder: () => byteDecoder(LATIN5_DIFF) };
  try {
    new TextDecoder(label);
  } catch {
    return { name, decoded: false, decoder: () => byteDecoder() }; // a Node built without full ICU
  }
  return { name, decoded: true, decoder: () => whatwgDecoder(label) };
}

/** Decode a whole byte string (a catalog name, say) as the dump's text would be. */
export function decodeBytes(enc: DumpEncoding, bytes: Buffer): string {
  const d = enc.decoder();
  return d.write(bytes) + d.end();
}

/**
 * A name for reports: as decoded; on SQL_ASCII each byte that is not UTF-8 written `\xNN` (showBytes); for an
 * encoding read byte for byte, every byte ≥ 0x80 written `\xNN` and a backslash doubled, so that no information is
 * lost and no character is guessed.
 */
export function displayName(enc: DumpEncoding, name: string): string {
  if (enc === SQL_ASCII) return showBytes(name);
  if (enc.decoded || !/[\\\u0080-\u00ff]/.test(name)) return name;
  return name.replace(/[\\\u0080-\u00ff]/g, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/**
 * The encoding of a plain dump from its first bytes (`head`: pg_dump writes its `SET client_encoding` within the
 * first few hundred); UTF8 without one.
 */
export function encodingOfDumpHead(head: Buffer): DumpEncoding {
  const m = /^SET client_encoding = '([A-Za-z0-9_]+)';$/m.exec(head.toString('latin1'));
  return m ? dumpEncoding(m[1]!) : UTF8;
}
