// bench/gen.mjs URL TOTAL COLLECTIONS DIM - fill a Chroma server with the
// copy-bench dataset through the HTTP API.
//
// TOTAL records split evenly over COLLECTIONS collections (bench-0 ...),
// DIM-dimensional float32 embeddings, documents of ~300 bytes and five
// metadata fields.  Everything comes from a fixed-seed PRNG, so every run
// (and every machine) gets byte-identical data.
const [url, totalArg, ncollArg, dimArg] = process.argv.slice(2);
if (!url || !totalArg || !ncollArg || !dimArg) {
	console.error('usage: gen.mjs URL TOTAL COLLECTIONS DIM');
	process.exit(2);
}
const total = Number(totalArg), ncoll = Number(ncollArg), dim = Number(dimArg);
const base = `${url}/api/v2/tenants/default_tenant/databases/default_database`;

const post = async (p, body) => {
	const r = await fetch(base + p, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(body),
	});
	const t = await r.text();
	if (!r.ok) throw new Error(`${p}: HTTP ${r.status} ${t}`);
	return JSON.parse(t);
};

// LCG (Numerical Recipes constants), 32-bit state.
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

const per = Math.floor(total / ncoll);
for (let c = 0; c < ncoll; c++) {
	const name = `bench-${c}`;
	const n = c === ncoll - 1 ? total - per * (ncoll - 1) : per;
	const coll = await post('/collections', {
		name,
		metadata: { purpose: 'cdb copy-bench', shard: c },
		configuration: { hnsw: { space: c % 2 ? 'cosine' : 'l2' } },
	});
	for (let off = 0; off < n; off += 1000) {
		const ids = [], embeddings = [], documents = [], metadatas = [];
		for (let i = off; i < Math.min(n, off + 1000); i++) {
			ids.push(`${name}-${String(i).padStart(6, '0')}`);
			const e = new Array(dim);
			for (let k = 0; k < dim; k++) e[k] = Math.fround(rnd() * 2 - 1);
			embeddings.push(e);
			documents.push(sentence(260 + Math.floor(rnd() * 80)));
			metadatas.push({
				source: `file-${Math.floor(rnd() * 500)}.md`,
				chunk: i,
				score: Math.round(rnd() * 1e6) / 1e6,
				lang: langs[i % langs.length],
				reviewed: i % 3 === 0,
			});
		}
		await post(`/collections/${coll.id}/add`, { ids, embeddings, documents, metadatas });
	}
}
