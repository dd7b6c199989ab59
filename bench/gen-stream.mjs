// bench/gen-stream.mjs TOTAL COLLECTIONS DIM > BODY - the copy-bench
// dataset of bench/gen.mjs (same collections, fields and sizes, from a
// fixed-seed PRNG) written as a cdb-ndjson(5) stream without its trailer
// (tests/fixtures/retrailer adds it), embeddings in base64.  No server:
// a large dataset streams from here instead of being loaded twice.
import { once } from 'node:events';

const [totalArg, ncollArg, dimArg] = process.argv.slice(2);
if (!totalArg || !ncollArg || !dimArg) {
	console.error('usage: gen-stream.mjs TOTAL COLLECTIONS DIM > BODY');
	process.exit(2);
}
const total = Number(totalArg), ncoll = Number(ncollArg), dim = Number(dimArg);
let seed = 20240611;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
const words = ('vector embedding collection migrate stream record batch index ' +
	'query cosine distance tenant database segment compaction metadata ' +
	'document chunk token search nearest neighbour graph layer shard ' +
	'replica latency throughput memory buffer pipe export import digest').split(' ');
const sentence = (target) => {
	let s = '';
	while (s.length < target) s += (s ? ' ' : '') + words[Math.floor(rnd() * words.length)];
	return s.slice(0, target);
};
const langs = ['en', 'de', 'fr', 'es'];
const out = process.stdout;
const put = async (o) => {
	if (!out.write(JSON.stringify(o) + '\n')) await once(out, 'drain');
};

await put({ kind: 'header', format: 'cdb-ndjson', version: 1, source: 'bench/gen-stream.mjs',
	tenant: 'default_tenant', database: 'default_database',
	created: '2026-01-01T00:00:00Z', tool: 'gen-stream', embeddings: 'base64' });
const per = Math.floor(total / ncoll);
const f32 = new Float32Array(dim);
for (let c = 0; c < ncoll; c++) {
	const name = `bench-${c}`;
	const n = c === ncoll - 1 ? total - per * (ncoll - 1) : per;
	await put({ kind: 'collection', name, metadata: { purpose: 'cdb copy-bench', shard: c },
		configuration: { hnsw: { space: c % 2 ? 'cosine' : 'l2' } }, schema: null,
		dimension: dim, count: n });
	for (let i = 0; i < n; i++) {
		for (let k = 0; k < dim; k++) f32[k] = Math.fround(rnd() * 2 - 1);
		await put({ kind: 'record', collection: name, id: `${name}-${String(i).padStart(6, '0')}`,
			document: sentence(260 + Math.floor(rnd() * 80)),
			metadata: {
				source: `file-${Math.floor(rnd() * 500)}.md`, chunk: i,
				score: Math.round(rnd() * 1e6) / 1e6, lang: langs[i % langs.length],
				reviewed: i % 3 === 0,
			},
			embedding: Buffer.from(f32.buffer).toString('base64'), uri: null });
	}
}
