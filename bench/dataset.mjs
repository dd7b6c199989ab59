// bench/dataset.mjs - the benchmark dataset, shared by bench/gen.mjs (through
// the HTTP API) and bench/gen-stream.mjs (as a stream): TOTAL records split
// evenly over NCOLL collections (bench-0 ...), DIM-dimensional float32
// embeddings, documents of ~300 bytes and five metadata fields, all from a
// fixed-seed PRNG so that every run and machine gets byte-identical data.
//
// collections(total, ncoll) lists {name, n, metadata, configuration};
// records(coll, dim) yields {id, embedding (Float32Array, reused), document,
// metadata}, and must be drained collection by collection, in order.
let seed = 20240611;
// LCG (Numerical Recipes constants), 32-bit state.
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

export function collections(total, ncoll) {
	const per = Math.floor(total / ncoll), out = [];
	for (let c = 0; c < ncoll; c++)
		out.push({
			name: `bench-${c}`,
			n: c === ncoll - 1 ? total - per * (ncoll - 1) : per,
			metadata: { purpose: 'cdb copy-bench', shard: c },
			configuration: { hnsw: { space: c % 2 ? 'cosine' : 'l2' } },
		});
	return out;
}

export function* records(coll, dim) {
	const f32 = new Float32Array(dim);
	for (let i = 0; i < coll.n; i++) {
		for (let k = 0; k < dim; k++) f32[k] = Math.fround(rnd() * 2 - 1);
		yield {
			id: `${coll.name}-${String(i).padStart(6, '0')}`,
			embedding: f32,
			document: sentence(260 + Math.floor(rnd() * 80)),
			metadata: {
				source: `file-${Math.floor(rnd() * 500)}.md`,
				chunk: i,
				score: Math.round(rnd() * 1e6) / 1e6,
				lang: langs[i % langs.length],
				reviewed: i % 3 === 0,
			},
		};
	}
}
