// gen-demo.mjs URL - fill a Chroma server with the demo's "old" deployment:
// exactly 9,832 chunks in four collections, 384-dimension embeddings,
// deterministic (the same bytes on every run), with the loose metadata of
// an old schema: numbers stored as strings, comma-joined tags, dates as
// strings, inconsistent field names and missing values.
const url = process.argv[2];
const base = `${url}/api/v2/tenants/default_tenant/databases/default_database`;
const DIM = 384;
const COLLECTIONS = [
	['sergio_personality', 2611, 'cosine'],
	['sergio_rhetorical', 2387, 'cosine'],
	['sergio_humor', 1946, 'l2'],
	['sergio_corpus', 2888, 'l2'],
]; // 9,832 in all

let seed = 20251130;
const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const words = ['argument', 'irony', 'pause', 'timing', 'metaphor', 'audience', 'voice',
	'story', 'claim', 'evidence', 'warmth', 'wit', 'contrast', 'rhythm', 'question'];

async function post(path, body) {
	const r = await fetch(base + path, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
	});
	const t = await r.text();
	if (!r.ok) throw new Error(`${path}: HTTP ${r.status}: ${t}`);
	return JSON.parse(t);
}

function chunk(coll, i) {
	const doc = Array.from({ length: 30 + (i % 40) }, () => pick(words)).join(' ');
	const m = {
		source: `${coll.replace('sergio_', '')}/doc-${Math.floor(i / 12)}.md`,
		chunk: String(i % 12),                        // number as a string
		total_chunks: i % 9 === 0 ? '12' : 12,        // sometimes a string
		tags: [pick(words), pick(words)].join(','),   // comma-joined
		date: `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
		tokens: String(40 + (i % 300)),
	};
	if (i % 7 === 0) m.Author = 'Sergio'; else if (i % 7 !== 3) m.author = 'sergio';
	if (i % 11 === 0) delete m.date;                 // missing value
	return { id: `${coll}-${String(i).padStart(5, '0')}`, doc, m };
}

for (const [name, n, space] of COLLECTIONS) {
	const c = await post('/collections', {
		name, metadata: { deployment: 'old', schema: 'v1' },
		configuration: { hnsw: { space } },
	});
	for (let off = 0; off < n; off += 1000) {
		const ids = [], embeddings = [], documents = [], metadatas = [];
		for (let i = off; i < Math.min(n, off + 1000); i++) {
			const ch = chunk(name, i);
			ids.push(ch.id);
			documents.push(ch.doc);
			metadatas.push(ch.m);
			embeddings.push(Array.from({ length: DIM }, () => Math.fround(rnd() * 2 - 1)));
		}
		await post(`/collections/${c.id}/add`, { ids, embeddings, documents, metadatas });
	}
	console.log(`  ${name}: ${n} chunks (${space})`);
}
