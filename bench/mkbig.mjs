// bench/mkbig.mjs DUMP TOTAL PREFIX > BODY - replicate a cdb-export stream
// to TOTAL records, for the memory measurement.
//
// Writes everything except the trailer to stdout: the header line as it
// is, then per collection of DUMP a collection line renamed PREFIX+name
// (its "count" set to the new number of records), followed by that
// collection's records repeated with new ids (id + "~rK") until the
// collection holds its share of TOTAL.  Record lines are copied byte for
// byte except for the collection name and id at their start, so the
// embedding text stays exactly what cdb-export wrote.  The caller appends
// the trailer (counts and XXH64 digest of these bytes).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const [dump, totalArg, prefix] = process.argv.slice(2);
if (!dump || !totalArg || prefix === undefined) {
	console.error('usage: mkbig.mjs DUMP TOTAL PREFIX > BODY');
	process.exit(2);
}
const total = Number(totalArg);

let header = null;
const colls = []; // { obj, recs: [[idJson, rest]] }
const rl = createInterface({ input: createReadStream(dump), crlfDelay: Infinity });
for await (const line of rl) {
	if (line.startsWith('{"kind":"record",')) {
		const o = JSON.parse(line);
		const head = `{"kind":"record","collection":${JSON.stringify(o.collection)},"id":${JSON.stringify(o.id)}`;
		if (!line.startsWith(head))
			throw new Error(`unexpected record layout: ${line.slice(0, 120)}`);
		colls[colls.length - 1].recs.push([o.id, line.slice(head.length)]);
		continue;
	}
	const o = JSON.parse(line);
	if (o.kind === 'header') header = line;
	else if (o.kind === 'collection') colls.push({ obj: o, recs: [] });
}
if (header === null || colls.length === 0) throw new Error(`${dump}: no header or no collections`);

// Write with backpressure, in chunks of ~1 MiB.
let chunk = [];
let chunkLen = 0;
const emit = async (s) => {
	chunk.push(s, '\n');
	chunkLen += s.length + 1;
	if (chunkLen >= 1 << 20) await drain();
};
const drain = async () => {
	const data = chunk.join('');
	chunk = [];
	chunkLen = 0;
	if (!process.stdout.write(data))
		await new Promise((resolve) => process.stdout.once('drain', resolve));
};

await emit(header);
const per = Math.floor(total / colls.length);
let written = 0;
for (let c = 0; c < colls.length; c++) {
	const { obj, recs } = colls[c];
	const want = c === colls.length - 1 ? total - per * (colls.length - 1) : per;
	const name = prefix + obj.name;
	await emit(JSON.stringify({ ...obj, name, count: want }));
	const nameJson = JSON.stringify(name);
	for (let i = 0; i < want; i++) {
		const [id, rest] = recs[i % recs.length];
		const k = Math.floor(i / recs.length);
		await emit(`{"kind":"record","collection":${nameJson},"id":${JSON.stringify(`${id}~r${k}`)}${rest}`);
		written++;
	}
}
await drain();
console.error(`mkbig: ${written} records in ${colls.length} collections`);
