// bench/mkbodies.mjs DUMP MAXBATCH OUTDIR - prebuild the baseline's request
// bodies from a cdb-export stream.
//
// Batches are made the way cdb-import makes them: per collection, in stream
// order, at most MAXBATCH records (the server's max_batch_size) and at most
// 20 MiB per body (cdb-import -j 1: 40 MiB / (jobs + 1)); embeddings as base64 little-endian float32; arrays that
// would hold only nulls (uris here) are left out.  Writes
//   OUTDIR/collections.ndjson  one create-collection body a line
//   OUTDIR/batches.tsv         collection name <TAB> body file, in order
//   OUTDIR/NNNN.json           the bodies
import { createReadStream, mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [dump, maxArg, out] = process.argv.slice(2);
if (!dump || !maxArg || !out) {
	console.error('usage: mkbodies.mjs DUMP MAXBATCH OUTDIR');
	process.exit(2);
}
const maxBatch = Number(maxArg);
const maxBytes = 20 * 1024 * 1024;
mkdirSync(out, { recursive: true });
writeFileSync(`${out}/collections.ndjson`, '');
writeFileSync(`${out}/batches.tsv`, '');

let nbody = 0, nrec = 0;
let cur = null; // { name, parts: {ids, embs, docs, metas, uris}, any..., bytes, n }

const fresh = (name) => ({ name, ids: [], embs: [], docs: [], metas: [], uris: [],
	anyDoc: false, anyMeta: false, anyUri: false, bytes: 128, n: 0 });

const flush = () => {
	if (!cur || cur.n === 0) return;
	let body = `{"ids":[${cur.ids.join(',')}],"embeddings":[${cur.embs.join(',')}]`;
	if (cur.anyDoc) body += `,"documents":[${cur.docs.join(',')}]`;
	if (cur.anyMeta) body += `,"metadatas":[${cur.metas.join(',')}]`;
	if (cur.anyUri) body += `,"uris":[${cur.uris.join(',')}]`;
	body += '}';
	const file = `${out}/${String(nbody++).padStart(4, '0')}.json`;
	writeFileSync(file, body);
	appendFileSync(`${out}/batches.tsv`, `${cur.name}\t${file}\n`);
	cur = fresh(cur.name);
};

const rl = createInterface({ input: createReadStream(dump), crlfDelay: Infinity });
for await (const line of rl) {
	const o = JSON.parse(line);
	if (o.kind === 'collection') {
		flush();
		const req = { name: o.name, get_or_create: true };
		if (o.metadata != null) req.metadata = o.metadata;
		if (o.configuration != null) req.configuration = o.configuration;
		appendFileSync(`${out}/collections.ndjson`, JSON.stringify(req) + '\n');
		cur = fresh(o.name);
	} else if (o.kind === 'record') {
		let emb = o.embedding;
		if (typeof emb !== 'string')
			emb = Buffer.from(Float32Array.from(emb).buffer).toString('base64');
		const r = {
			id: JSON.stringify(o.id),
			emb: JSON.stringify(emb),
			doc: JSON.stringify(o.document ?? null),
			meta: JSON.stringify(o.metadata ?? null),
			uri: JSON.stringify(o.uri ?? null),
		};
		const need = r.id.length + r.emb.length + r.doc.length + r.meta.length + r.uri.length + 5;
		if (cur.n >= maxBatch || cur.bytes + need > maxBytes) flush();
		cur.ids.push(r.id); cur.embs.push(r.emb); cur.docs.push(r.doc);
		cur.metas.push(r.meta); cur.uris.push(r.uri);
		cur.anyDoc ||= typeof o.document === 'string';
		cur.anyMeta ||= o.metadata != null && typeof o.metadata === 'object';
		cur.anyUri ||= typeof o.uri === 'string';
		cur.bytes += need;
		cur.n++;
		nrec++;
	}
}
flush();
console.log(`${nrec} records in ${nbody} bodies`);
