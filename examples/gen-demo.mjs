// gen-demo.mjs URL [--stream] - fill a Chroma server with the demo's "old"
// deployment: exactly 9,832 chunks in four collections, 384-dimension
// embeddings, deterministic (the same bytes on every run), with the loose
// metadata an old ingestion pipeline leaves behind after a few rewrites:
//
//   - the same fact under different names (source / source_path / file,
//     type / doc_type / kind, author / Author / writer, title / Title /
//     heading, lang / language, chunk / chunk_index, total_chunks /
//     n_chunks, tokens / n_tokens, tags / keywords, date / created);
//   - numbers stored as strings ("3", " 57 ", "12"), whole numbers stored
//     as floats (3.0);
//   - dates as "2024-03-05", "2024-03-05 10:11:12", with a zone offset,
//     as epoch seconds, as epoch seconds in a string, or missing (then
//     only the ingestion time is there);
//   - comma-joined tags with stray spaces, capitals and empty pieces, or
//     real arrays, or an empty string;
//   - inconsistent case and spelling ("English", "EN", "español",
//     "Blog Post", " talk "), placeholders ("n/a"), stray white space;
//   - leftover fields nobody reads any more (legacy_score, ingest_batch,
//     embedding_model).
//
// schemas/default.json maps all of it to the strict 12-field schema with
// no rejects.  With --stream nothing is sent: the metadata is printed as
// NDJSON lines {"collection","id","metadata"} (for inspecting the data).
const url = process.argv[2];
const streamOnly = process.argv.includes('--stream');
const base = `${url}/api/v2/tenants/default_tenant/databases/default_database`;
const DIM = 384;
const CHUNKS_PER_DOC = 12;
const COLLECTIONS = [
	['sergio_personality', 2611, 'cosine', ['interview', 'Interview', 'essay', 'ESSAY']],
	['sergio_rhetorical', 2387, 'cosine', ['talk', ' talk ', 'speech', 'Transcript']],
	['sergio_humor', 1946, 'l2', ['tweet', 'post', 'Social', 'essay']],
	['sergio_corpus', 2888, 'l2', ['book', 'Blog Post', 'article', 'essay', 'Book']],
]; // 9,832 in all
const CORPUS = 2888;

let seed = 20251130;
const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const words = ['argument', 'irony', 'pause', 'timing', 'metaphor', 'audience', 'voice',
	'story', 'claim', 'evidence', 'warmth', 'wit', 'contrast', 'rhythm', 'question'];
const pad = (n, w) => String(n).padStart(w, '0');

async function post(path, body) {
	const r = await fetch(base + path, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
	});
	const t = await r.text();
	if (!r.ok) throw new Error(`${path}: HTTP ${r.status}: ${t}`);
	return JSON.parse(t);
}

// The creation date of document d of a collection, in one of the forms
// the old pipeline wrote over the years.
function dated(m, short, d) {
	const month = 1 + ((d * 5 + short.length) % 12), day = 1 + ((d * 7) % 28);
	const hh = pad(d % 24, 2), mm = pad((d * 13) % 60, 2), ss = pad((d * 17) % 60, 2);
	const ymd = `20${20 + (d % 5)}-${pad(month, 2)}-${pad(day, 2)}`;
	const epoch = Math.floor(Date.UTC(2020 + (d % 5), month - 1, day, d % 24) / 1000);
	switch (d % 8) {
	case 0: m.date = ymd; break;
	case 1: m.date = `${ymd}T${hh}:${mm}:${ss}Z`; break;
	case 2: m.date = `${ymd} ${hh}:${mm}:${ss}`; break;
	case 3: m.date = `${ymd}T${hh}:${mm}:${ss}+02:00`; break;
	case 4: m.created = epoch; break;
	case 5: m.created = String(epoch); break;
	case 6: m.date = ''; break; // blank: the ingestion time is used
	default: break;            // missing: the ingestion time is used
	}
}

function meta(short, types, i, n) {
	const d = Math.floor(i / CHUNKS_PER_DOC), idx = i % CHUNKS_PER_DOC;
	const count = Math.min(CHUNKS_PER_DOC, n - d * CHUNKS_PER_DOC);
	const m = {};
	const path = `${short}/doc-${pad(d, 4)}.md`;
	const [where, what] = [['source', path], ['source', ` ${path} `], ['source_path', path],
		['file', path]][[0, 0, 0, 0, 0, 0, 1, 2, 2, 3][d % 10]];
	m[where] = what;
	m[['type', 'type', 'type', 'doc_type', 'kind'][d % 5]] = types[d % types.length];
	switch (d % 9) {
	case 0: case 1: case 2: case 3: m.author = 'sergio'; break;
	case 4: m.Author = 'Sergio'; break;
	case 5: m.writer = ' SERGIO '; break;
	case 6: m.author = short === 'corpus' ? 'Ana Ruiz' : 'Sergio'; break;
	default: break; // no author: the schema's default
	}
	const title = `${words[d % words.length]} and ${words[(d * 7 + 3) % words.length]}, part ${1 + (d % 4)}`;
	m[['title', 'title', 'title', 'title', 'Title', 'heading'][d % 6]] = d % 11 === 0 ? `${title}  ` : title;
	dated(m, short, d);
	m.ingested_at = '2024-11-30T08:00:00Z';
	const lang = ['en', 'en', 'EN', 'English', ' en ', 'es', 'Spanish', 'español', 'n/a', null][d % 10];
	if (lang !== null) m[d % 3 === 0 ? 'language' : 'lang'] = lang;
	switch (i % 10) {
	case 3: case 8: m.chunk_index = idx; break;
	case 4: m.chunk = idx; break;
	case 7: m.chunk_no = ` ${idx}`; break;
	case 9: m.chunk = `${idx}.0`; break;
	default: m.chunk = String(idx);
	}
	if (i % 4 === 0) m.total_chunks = String(count);
	else if (i % 4 === 1) m.total_chunks = count;
	else m.n_chunks = count;
	const tokens = 40 + ((i * 37) % 300);
	m[i % 6 === 5 ? 'n_tokens' : 'tokens'] = [String(tokens), tokens, ` ${tokens} `][i % 3];
	const t1 = pick(words), t2 = pick(words);
	switch (i % 8) {
	case 0: m.tags = `${t1}, ${t2[0].toUpperCase()}${t2.slice(1)}`; break;
	case 1: m.tags = `${t1},,${t2},`; break;
	case 2: m.keywords = [t1, t2]; break;
	case 3: m.tags = ''; break; // the schema's default ["untagged"]
	default: m.tags = `${t1},${t2}`;
	}
	if ((short === 'rhetorical' || short === 'humor') && i % 3 === 0)
		m.corpus_ref = `sergio_corpus-${pad((i * 7919) % CORPUS, 5)}${i % 2 ? ' ' : ''}`;
	if (i % 3 === 1) m.legacy_score = Math.round(rnd() * 1000) / 1000;
	m.ingest_batch = `batch-${pad(Math.floor(i / 500), 3)}`;
	m.embedding_model = 'all-MiniLM-L6-v2';
	return m;
}

function chunk(coll, types, i, n) {
	const doc = Array.from({ length: 30 + (i % 40) }, () => pick(words)).join(' ');
	const m = meta(coll.replace('sergio_', ''), types, i, n);
	return { id: `${coll}-${pad(i, 5)}`, doc, m };
}

for (const [name, n, space, types] of COLLECTIONS) {
	const c = streamOnly ? null : await post('/collections', {
		name, metadata: { deployment: 'old', schema: 'v1' },
		configuration: { hnsw: { space } },
	});
	for (let off = 0; off < n; off += 1000) {
		const ids = [], embeddings = [], documents = [], metadatas = [];
		for (let i = off; i < Math.min(n, off + 1000); i++) {
			const ch = chunk(name, types, i, n);
			ids.push(ch.id);
			documents.push(ch.doc);
			metadatas.push(ch.m);
			embeddings.push(Array.from({ length: DIM }, () => Math.fround(rnd() * 2 - 1)));
		}
		if (streamOnly)
			ids.forEach((id, k) => console.log(JSON.stringify({ collection: name, id, metadata: metadatas[k] })));
		else
			await post(`/collections/${c.id}/add`, { ids, embeddings, documents, metadatas });
	}
	if (!streamOnly)
		console.log(`  ${name}: ${n} chunks (${space})`);
}
