// bench/jscopy.mjs CHROMADB_MJS SRC_URL DST_URL - the comparison copy: what
// one would write with Chroma's official JS client (chromadb on npm).
// Every collection is created on the target with the source's metadata and
// HNSW space, then read in pages of 1000 (embeddings, documents, metadatas,
// uris) and each page added to the target as it is.
const [mod, src, dst] = process.argv.slice(2);
if (!mod || !src || !dst) {
	console.error('usage: jscopy.mjs CHROMADB_MJS SRC_URL DST_URL');
	process.exit(2);
}
const { ChromaClient } = await import(mod);
const client = (u) => {
	const p = new URL(u);
	return new ChromaClient({ host: p.hostname, port: Number(p.port), ssl: p.protocol === 'https:' });
};
const a = client(src), b = client(dst);
const PAGE = 1000;
let copied = 0;
for (const from of await a.listCollections()) {
	const space = from.configuration?.hnsw?.space ?? from.configuration?.spann?.space;
	const to = await b.createCollection({
		name: from.name,
		metadata: from.metadata ?? undefined,
		configuration: space ? { hnsw: { space } } : undefined,
		embeddingFunction: null,
	});
	for (let offset = 0; ; offset += PAGE) {
		const page = await from.get({
			limit: PAGE, offset,
			include: ['embeddings', 'documents', 'metadatas', 'uris'],
		});
		if (page.ids.length === 0) break;
		await to.add({
			ids: page.ids,
			embeddings: page.embeddings,
			documents: page.documents,
			metadatas: page.metadatas,
			uris: page.uris.some((u) => u != null) ? page.uris : undefined,
		});
		copied += page.ids.length;
		if (page.ids.length < PAGE) break;
	}
}
console.error(`jscopy: ${copied} records`);
