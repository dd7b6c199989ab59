// bench/gen-stream.mjs TOTAL COLLECTIONS DIM > BODY - the benchmark dataset
// (bench/dataset.mjs, the one bench/gen.mjs loads) written as a
// cdb-ndjson(5) stream without its trailer (tests/fixtures/retrailer adds
// it), embeddings in base64.  No server: a large dataset streams from here
// instead of being loaded twice.
import { once } from 'node:events';
import { collections, records } from './dataset.mjs';

const [totalArg, ncollArg, dimArg] = process.argv.slice(2);
if (!totalArg || !ncollArg || !dimArg) {
	console.error('usage: gen-stream.mjs TOTAL COLLECTIONS DIM > BODY');
	process.exit(2);
}
const dim = Number(dimArg);
const out = process.stdout;
const put = async (o) => {
	if (!out.write(JSON.stringify(o) + '\n')) await once(out, 'drain');
};

await put({ kind: 'header', format: 'cdb-ndjson', version: 1, source: 'bench/gen-stream.mjs',
	tenant: 'default_tenant', database: 'default_database',
	created: '2026-01-01T00:00:00Z', tool: 'gen-stream', embeddings: 'base64' });
for (const c of collections(Number(totalArg), Number(ncollArg))) {
	await put({ kind: 'collection', name: c.name, metadata: c.metadata,
		configuration: c.configuration, schema: null, dimension: dim, count: c.n });
	for (const r of records(c, dim))
		await put({ kind: 'record', collection: c.name, id: r.id, document: r.document,
			metadata: r.metadata,
			embedding: Buffer.from(r.embedding.buffer).toString('base64'), uri: null });
}
