// bench/gen.mjs URL TOTAL COLLECTIONS DIM - fill a Chroma server with the
// benchmark dataset (bench/dataset.mjs) through the HTTP API, 1,000 records
// per request.
import { chroma } from '../tests/fixtures/api.mjs';
import { collections, records } from './dataset.mjs';

const [url, totalArg, ncollArg, dimArg] = process.argv.slice(2);
if (!url || !totalArg || !ncollArg || !dimArg) {
	console.error('usage: gen.mjs URL TOTAL COLLECTIONS DIM');
	process.exit(2);
}
const post = chroma(url);

for (const c of collections(Number(totalArg), Number(ncollArg))) {
	const coll = await post('/collections',
		{ name: c.name, metadata: c.metadata, configuration: c.configuration });
	let b = { ids: [], embeddings: [], documents: [], metadatas: [] };
	const flush = async () => {
		if (b.ids.length > 0) await post(`/collections/${coll.id}/add`, b);
		b = { ids: [], embeddings: [], documents: [], metadatas: [] };
	};
	for (const r of records(c, Number(dimArg))) {
		b.ids.push(r.id);
		b.embeddings.push(Array.from(r.embedding));
		b.documents.push(r.document);
		b.metadatas.push(r.metadata);
		if (b.ids.length === 1000) await flush();
	}
	await flush();
}
