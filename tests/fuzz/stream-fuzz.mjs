// tests/fuzz/stream-fuzz.mjs - a mutation fuzzer for the cdb stream
// reader, with an oracle of its own.
//
//   node tests/fuzz/stream-fuzz.mjs --url URL [--count N] [--seed S]
//        [--import PATH] STREAM
//
// STREAM is a real exported stream (cdb-ndjson(5)).  Each mutant flips,
// inserts, deletes or duplicates bytes of it, repeats an object member
// or cuts it short; half of the mutants then get
// a freshly computed trailer (as tests/fixtures/retrailer writes it), so
// that the checks behind the digest are reached too.  Every mutant is
// given to `cdb-import --dry-run -u URL` (a server that holds none of the
// stream's collections) and its verdict, accepted or refused at which
// line, is compared with the oracle's: an independent reading of the
// rules of cdb-ndjson(5) and of cdb-import(1)'s dry run, written from the
// man pages with JavaScript's own JSON, UTF-8 and float32 handling (and
// an XXH64 of its own), sharing no code with libcdb.  A disagreement, a
// crash (exit status other than 0 or 1) or a hang (10 s) is a failure:
// the mutant is saved as fuzz-fail-N.ndjson in the current directory and
// the exit status is 1.
//
// A short run is part of the command tests (tests/cmd/fuzz_stream.sh);
// a long one is run by hand, e.g. with --count 100000 and a random seed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => {
	const i = args.indexOf(name);
	if (i < 0) return def;
	const v = args[i + 1];
	args.splice(i, 2);
	return v;
};
const url = opt('--url');
const count = Number(opt('--count', '200'));
let seed = Number(opt('--seed', String(Date.now() % 1000000)));
const here = path.dirname(new URL(import.meta.url).pathname);
const importer = opt('--import', path.join(here, '../../import/cdb-import'));
const file = args[0];
if (!url || !file) {
	console.error('usage: stream-fuzz.mjs --url URL [--count N] [--seed S] [--import PATH] STREAM');
	process.exit(2);
}

// ------------------------------------------------------------- XXH64 --
const M64 = (1n << 64n) - 1n;
const P1 = 11400714785074694791n, P2 = 14029467366897019727n;
const P3 = 1609587929392839161n, P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const rotl = (x, r) => ((x << BigInt(r)) | (x >> BigInt(64 - r))) & M64;
const round = (acc, v) => (rotl((acc + v * P2) & M64, 31) * P1) & M64;
const merge = (acc, v) => (((acc ^ round(0n, v)) * P1 + P4) & M64);
function xxh64(buf) {
	const n = buf.length;
	let i = 0, h;
	const u64 = (k) => buf.readBigUInt64LE(k);
	if (n >= 32) {
		let v1 = (P1 + P2) & M64, v2 = P2, v3 = 0n, v4 = (0n - P1) & M64;
		for (; i + 32 <= n; i += 32) {
			v1 = round(v1, u64(i)); v2 = round(v2, u64(i + 8));
			v3 = round(v3, u64(i + 16)); v4 = round(v4, u64(i + 24));
		}
		h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) & M64;
		h = merge(merge(merge(merge(h, v1), v2), v3), v4);
	} else h = P5;
	h = (h + BigInt(n)) & M64;
	for (; i + 8 <= n; i += 8) h = ((rotl(h ^ round(0n, u64(i)), 27) * P1) + P4) & M64;
	if (i + 4 <= n) {
		h = ((rotl(h ^ ((BigInt(buf.readUInt32LE(i)) * P1) & M64), 23) * P2) + P3) & M64;
		i += 4;
	}
	for (; i < n; i++) h = (rotl(h ^ ((BigInt(buf[i]) * P5) & M64), 11) * P1) & M64;
	h = ((h ^ (h >> 33n)) * P2) & M64;
	h = ((h ^ (h >> 29n)) * P3) & M64;
	return (h ^ (h >> 32n)).toString(16).padStart(16, '0');
}

// ------------------------------------------------ a strict JSON parser --
// RFC 8259 as cdb's readers take it: duplicate keys, NUL in keys, lone
// surrogate escapes, integers outside int64 and reals that overflow are
// errors.  Numbers come back as {int: BigInt} or {real: Number}.
class Bad extends Error {}
const INT_MIN = -(1n << 63n), INT_MAX = (1n << 63n) - 1n;
function parseJSON(s) {
	let p = 0, depth = 0;
	const ws = () => { while (p < s.length && ' \t\n\r'.includes(s[p])) p++; };
	const str = () => {
		let out = '';
		p++;
		for (;;) {
			if (p >= s.length) throw new Bad('unterminated string');
			const c = s[p];
			if (c === '"') { p++; return out; }
			if (c.charCodeAt(0) < 0x20) throw new Bad('control character');
			if (c !== '\\') { out += c; p++; continue; }
			const e = s[p + 1];
			p += 2;
			const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
			if (e in simple) { out += simple[e]; continue; }
			if (e !== 'u') throw new Bad('bad escape');
			const hex = (k) => {
				const h = s.slice(k, k + 4);
				if (!/^[0-9a-fA-F]{4}$/.test(h)) throw new Bad('bad \\u');
				return parseInt(h, 16);
			};
			const u = hex(p);
			p += 4;
			if (u >= 0xdc00 && u <= 0xdfff) throw new Bad('lone low surrogate');
			if (u >= 0xd800 && u <= 0xdbff) {
				if (s[p] !== '\\' || s[p + 1] !== 'u') throw new Bad('lone high surrogate');
				const l = hex(p + 2);
				if (l < 0xdc00 || l > 0xdfff) throw new Bad('bad surrogate pair');
				out += String.fromCharCode(u, l);
				p += 6;
			} else out += String.fromCharCode(u);
		}
	};
	const num = () => {
		const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(s.slice(p, p + 400));
		if (!m || m[0] === '' || m[0] === '-') throw new Bad('bad value');
		p += m[0].length;
		if (!m[2] && !m[3]) {
			const v = BigInt(m[0]);
			if (v < INT_MIN || v > INT_MAX) throw new Bad('integer overflow');
			return { int: v };
		}
		const d = Number(m[0]);
		if (!Number.isFinite(d)) throw new Bad('real overflow');
		return { real: d };
	};
	const value = () => {
		ws();
		if (p >= s.length) throw new Bad('value expected');
		if (++depth > 2048) throw new Bad('too deep');
		let v;
		const c = s[p];
		if (c === '{') {
			v = new Map();
			p++; ws();
			if (s[p] === '}') p++;
			else for (;;) {
				ws();
				if (s[p] !== '"') throw new Bad('key expected');
				const k = str();
				if (k.includes('\0')) throw new Bad('NUL in key');
				if (v.has(k)) throw new Bad('duplicate key');
				ws();
				if (s[p] !== ':') throw new Bad(': expected');
				p++;
				v.set(k, value());
				ws();
				if (s[p] === ',') { p++; continue; }
				if (s[p] === '}') { p++; break; }
				throw new Bad(', or } expected');
			}
		} else if (c === '[') {
			v = [];
			p++; ws();
			if (s[p] === ']') p++;
			else for (;;) {
				v.push(value());
				ws();
				if (s[p] === ',') { p++; continue; }
				if (s[p] === ']') { p++; break; }
				throw new Bad(', or ] expected');
			}
		} else if (c === '"') v = str();
		else if (s.startsWith('true', p)) { p += 4; v = true; }
		else if (s.startsWith('false', p)) { p += 5; v = false; }
		else if (s.startsWith('null', p)) { p += 4; v = null; }
		else v = num();
		depth--;
		return v;
	};
	const v = value();
	ws();
	if (p !== s.length) throw new Bad('trailing text');
	return v;
}

// ---------------------------------------------------------- the rules --
const isInt = (v) => v !== null && typeof v === 'object' && 'int' in v;
const isReal = (v) => v !== null && typeof v === 'object' && 'real' in v;
const isNum = (v) => isInt(v) || isReal(v);
const isObj = (v) => v instanceof Map;
const numVal = (v) => (isInt(v) ? Number(v.int) : v.real);

function checkMetadata(m) {
	if (m === undefined || m === null) return;
	if (!isObj(m)) throw new Bad('metadata not an object');
	for (const [k, v] of m) {
		if (k === '' || k[0] === '#') throw new Bad('bad metadata key');
		if (k[0] === '$') throw new Bad('metadata key $ (import)');
		if (typeof v === 'string' || typeof v === 'boolean' || isNum(v)) continue;
		if (!Array.isArray(v) || v.length === 0) throw new Bad('bad metadata value');
		const kind = (x) => (typeof x === 'string' ? 's' : typeof x === 'boolean' ? 'b' : isNum(x) ? 'n' : 'x');
		const k0 = kind(v[0]);
		if (k0 === 'x' || v.some((x) => kind(x) !== k0)) throw new Bad('bad metadata array');
	}
}

// The embedding's values, or throws.
function embedding(e) {
	if (typeof e === 'string') {
		if (e.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(={0,2})$/.test(e)) throw new Bad('bad base64');
		const b = Buffer.from(e, 'base64');
		if (b.length % 4 !== 0) throw new Bad('base64 not whole floats');
		const out = [];
		for (let i = 0; i < b.length; i += 4) out.push(b.readFloatLE(i));
		if (out.some((x) => !Number.isFinite(x))) throw new Bad('not finite');
		return out;
	}
	if (!Array.isArray(e)) throw new Bad('embedding not array/string/null');
	if (e.length > 65536) throw new Bad('too many values');
	return e.map((x) => {
		if (!isNum(x)) throw new Bad('not a number');
		const f = Math.fround(numVal(x));
		if (!Number.isFinite(f)) throw new Bad('out of float32 range');
		return f;
	});
}

function validName(n) {
	if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$/.test(n)) return false;
	if (n.includes('..')) return false;
	const q = n.split('.');
	const ipv4 = q.length === 4 && q.every((x) => /^(0|[1-9][0-9]{0,2})$/.test(x) && Number(x) <= 255);
	return !ipv4;
}

// The oracle: 0 when the dry run must accept buf, else the line it must
// refuse it at.
function oracle(buf) {
	const dec = new TextDecoder('utf-8', { fatal: true });
	let start = 0, line = 0, header = false, done = false;
	let records = 0, collections = 0;
	const colls = new Map(); // name -> dimension or null
	const learnt = new Map();
	while (start < buf.length) {
		let end = buf.indexOf(10, start);
		const last = end < 0;
		if (last) end = buf.length;
		line++;
		const raw = buf.subarray(start, end);
		const next = last ? buf.length : end + 1;
		if (done) return line;
		if (raw.includes(0) || raw.length === 0) return line;
		let o;
		try {
			o = parseJSON(dec.decode(raw));
		} catch (e) {
			if (e instanceof Bad || e instanceof TypeError) return line;
			throw e;
		}
		if (!isObj(o)) return line;
		const kind = o.get('kind');
		if (!['header', 'collection', 'record', 'trailer'].includes(kind)) return line;
		if (!header && kind !== 'header') return line;
		try {
			if (kind === 'header') {
				const v = o.get('version');
				if (header || o.get('format') !== 'cdb-ndjson' || !isInt(v) || v.int !== 1n) return line;
				header = true;
			} else if (kind === 'collection') {
				const name = o.get('name'), dim = o.get('dimension');
				if (typeof name !== 'string' || name === '') return line;
				if (dim !== undefined && dim !== null && !(isInt(dim) && dim.int >= 1n)) return line;
				if (colls.has(name)) return line;
				if (!validName(name)) return line; // the dry run's rule
				colls.set(name, isInt(dim) ? Number(dim.int) : null);
				collections++;
			} else if (kind === 'record') {
				const c = o.get('collection'), id = o.get('id');
				if (typeof c !== 'string' || !colls.has(c)) return line;
				if (typeof id !== 'string' || id === '') return line;
				for (const k of ['document', 'uri']) {
					const v = o.get(k);
					if (v !== undefined && v !== null && typeof v !== 'string') return line;
				}
				checkMetadata(o.get('metadata'));
				const e = o.get('embedding');
				if (e === undefined || e === null) return line; // import needs one
				const v = embedding(e);
				if (v.length === 0) return line;
				const want = colls.get(c) ?? learnt.get(c);
				if (want === undefined) learnt.set(c, v.length);
				else if (v.length !== want) return line;
				records++;
			} else {
				const d = 'xxh64:' + xxh64(buf.subarray(0, start));
				const r = o.get('records'), n = o.get('collections');
				if (!isInt(r) || r.int !== BigInt(records)) return line;
				if (!isInt(n) || n.int !== BigInt(collections)) return line;
				if (o.get('digest') !== d) return line;
				done = true;
			}
		} catch (e) {
			if (e instanceof Bad) return line;
			throw e;
		}
		start = next;
	}
	return done ? 0 : line + 1;
}

// ------------------------------------------------------- the mutants --
function rnd(n) {
	seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
	return Math.floor((seed / 4294967296) * n);
}
const SPECIAL = Buffer.from('{}[]":,\\\n-.e0123456789nNtfuA=+/ \x00\xff\xc3');

function mutate(orig) {
	let b = Buffer.from(orig);
	const edits = 1 + rnd(3);
	for (let k = 0; k < edits; k++) {
		const at = rnd(b.length + 1);
		switch (rnd(7)) {
		case 0: // flip a bit
			if (at < b.length) b[at] ^= 1 << rnd(8);
			break;
		case 1: // insert a byte, mostly one that matters to JSON
			b = Buffer.concat([b.subarray(0, at),
				Buffer.from([rnd(4) ? SPECIAL[rnd(SPECIAL.length)] : rnd(256)]), b.subarray(at)]);
			break;
		case 2: // delete a byte
			b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
			break;
		case 3: { // delete a run
			const n = 1 + rnd(40);
			b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
			break;
		}
		case 4: { // duplicate a run (keys, values, lines)
			const n = 1 + rnd(60);
			b = Buffer.concat([b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n)]);
			break;
		}
		case 5: { // repeat a member: ,"key":value up to the next ,"
			const from = b.indexOf(',"', at), to = b.indexOf(',"', from + 2);
			const nl = b.indexOf(10, from);
			if (from < 0 || to < 0 || (nl >= 0 && nl < to)) break;
			b = Buffer.concat([b.subarray(0, to), b.subarray(from, to), b.subarray(to)]);
			break;
		}
		default: // cut the stream
			b = b.subarray(0, at);
		}
	}
	return b;
}

// A fresh trailer, as tests/fixtures/retrailer writes one.
function retrailer(b) {
	const lines = b.toString('latin1').split('\n');
	const lastNl = b.length > 0 && b[b.length - 1] === 10;
	if (lastNl) lines.pop();
	const keep = lines.filter((l) => !l.startsWith('{"kind":"trailer"'));
	const body = Buffer.from(keep.map((l) => l + '\n').join(''), 'latin1');
	const rec = keep.filter((l) => l.startsWith('{"kind":"record"')).length;
	const col = keep.filter((l) => l.startsWith('{"kind":"collection"')).length;
	return Buffer.concat([body, Buffer.from(
		`{"kind":"trailer","records":${rec},"collections":${col},"digest":"xxh64:${xxh64(body)}"}\n`)]);
}

// The dry run's verdict: 0, or the line of its message.
function run(b) {
	const r = spawnSync(importer, ['-q', '--dry-run', '-u', url], { input: b, timeout: 10000 });
	if (r.error || r.signal) return { crash: `${r.error || r.signal}` };
	if (r.status === 0) return { line: 0 };
	if (r.status !== 1) return { crash: `exit status ${r.status}: ${r.stderr}` };
	const m = /^cdb-import: stdin:(\d+): /.exec(r.stderr.toString());
	if (!m) return { crash: `no line in: ${r.stderr}` };
	return { line: Number(m[1]), msg: r.stderr.toString().trim() };
}

const orig = fs.readFileSync(file);
if (oracle(orig) !== 0) {
	console.error(`stream-fuzz: the oracle refuses ${file} at line ${oracle(orig)}: not a valid stream`);
	process.exit(1);
}
const first = seed;
let failures = 0, accepted = 0;
for (let i = 0; i < count; i++) {
	let m = mutate(orig);
	if (i % 2 === 1) m = retrailer(m);
	const want = oracle(m);
	const got = run(m);
	if (got.line === 0) accepted++;
	if (got.crash || got.line !== want) {
		const out = `fuzz-fail-${failures++}.ndjson`;
		fs.writeFileSync(out, m);
		console.error(`stream-fuzz: mutant ${i}: oracle ${want ? `refuses at line ${want}` : 'accepts'}, ` +
			`cdb-import ${got.crash ? `crashed: ${got.crash}` : got.line ? `refused: ${got.msg}` : 'accepted'}; saved as ${out}`);
	}
}
console.log(`stream-fuzz: seed ${first}: ${count} mutants, ${accepted} accepted, ${failures} disagreements`);
process.exit(failures ? 1 : 0);
