// tf_check.js - what can be checked of deploy/terraform without Terraform
// or its providers (neither runs here).
//
//   node deploy/check/tf_check.js TERRAFORM_DIR OUT.json [TREE.json]
//
// Every .tf file is parsed with npm @cdktf/hcl2json (HCL2, offline; a syntax
// error names file and line).  Then, per folder (a root stack or a module):
//   - every var.X used is declared in a variable block, every declared
//     variable is used, every local.X is defined;
//   - every module block's source is a folder here, every argument it passes
//     is a variable of that module and every required variable is passed;
//     every module.M.O names a module block M whose folder has output O;
//   - every resource and data reference names a block of the same folder;
//   - no AWS account id (12 digits) or access key id is written in a .tf
//     file (terraform.tfvars.example holds placeholders only);
// and the IAM policy documents of modules/revenant-iam are written to
// OUT.json ({name: [{actions, resources}...]}) for the caller to compare with the code,
// and every file that parsed to TREE.json ({path relative to TERRAFORM_DIR:
// hcl2json's JSON}), for the caller's own checks without parsing again (the
// WASM parser takes about 70 ms a file).
// Exits 1 with one line per problem.
"use strict";
const fs = require("fs");
const path = require("path");
const hcl = require("@cdktf/hcl2json");

const problems = [];
const bad = (m) => problems.push(m);

function tfFiles(dir) {
	return fs.readdirSync(dir).filter((f) => f.endsWith(".tf")).sort().map((f) => path.join(dir, f));
}
function folders(root) {
	const out = [];
	const walk = (d) => {
		if (tfFiles(d).length) out.push(d);
		for (const e of fs.readdirSync(d, { withFileTypes: true }))
			if (e.isDirectory() && !e.name.startsWith(".")) walk(path.join(d, e.name));
	};
	walk(root);
	return out;
}

// Every string in a parsed value (expressions come back as "${...}").
function strings(v, out = []) {
	if (typeof v === "string") out.push(v);
	else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
	else if (v && typeof v === "object")
		for (const [k, x] of Object.entries(v)) {
			// An object key can be a template ("kubernetes.io/cluster/${var.name}" = ...).
			if (k.includes("${")) out.push(k);
			strings(x, out);
		}
	return out;
}
// The strings that hold an expression: hcl2json writes every expression
// as "${...}", with the literal parts of a template around it.
function exprs(v) {
	return strings(v).filter((s) => s.includes("${"));
}

const tree = {};
async function parseFolder(dir, root) {
	const merged = { variable: {}, output: {}, locals: [], module: {}, resource: {}, data: {}, _raw: [] };
	for (const f of tfFiles(dir)) {
		const text = fs.readFileSync(f, "utf8");
		if (/\b\d{12}\b/.test(text)) bad(`${f}: a 12-digit number (an AWS account id?) is written in it`);
		if (/\b(AKIA|ASIA)[A-Z0-9]{16}\b/.test(text)) bad(`${f}: an AWS access key id is written in it`);
		let j;
		try {
			j = await hcl.parse(f, text);
		} catch (e) {
			bad(`${f}: does not parse: ${e.message || e}`);
			continue;
		}
		tree[path.relative(root, f)] = j;
		merged._raw.push(j);
		for (const k of ["variable", "output", "module"]) Object.assign(merged[k], j[k] || {});
		if (j.locals) merged.locals.push(...j.locals);
		for (const k of ["resource", "data"])
			for (const [type, byName] of Object.entries(j[k] || {}))
				for (const name of Object.keys(byName)) merged[k][`${type}.${name}`] = byName[name];
	}
	return merged;
}

async function main() {
	const root = path.resolve(process.argv[2]);
	const parsed = new Map();
	for (const d of folders(root)) parsed.set(d, await parseFolder(d, root));

	for (const [dir, m] of parsed) {
		const rel = path.relative(root, dir);
		const locals = new Set(m.locals.flatMap((l) => Object.keys(l)));
		const used = new Set();
		// Everything but the variable blocks' own defaults and descriptions.
		const body = m._raw.map((j) => ({ ...j, variable: undefined }));
		for (const e of exprs(body)) {
			// Strip quoted strings inside expressions ("arn:aws:..." literals),
			// keeping the interpolations of the templates among them
			// ("${var.name}-public" inside a merge()).
			const code = e.replace(/"(?:[^"\\]|\\.)*"/g, (q) => ` ${(q.match(/\$\{[^}]*\}/g) || []).join(" ")} `);
			for (const r of code.matchAll(/(?<![\w.])var\.([\w-]+)/g)) {
				used.add(r[1]);
				if (!m.variable[r[1]]) bad(`${rel}: var.${r[1]} is used but not declared`);
			}
			for (const r of code.matchAll(/(?<![\w.])local\.([\w-]+)/g))
				if (!locals.has(r[1])) bad(`${rel}: local.${r[1]} is not defined`);
			for (const r of code.matchAll(/(?<![\w.])module\.([\w-]+)(?:\[[^\]]*\])?\.([\w-]+)/g)) {
				const mod = m.module[r[1]];
				if (!mod) {
					bad(`${rel}: module.${r[1]} is not a module block`);
					continue;
				}
				const sub = parsed.get(path.resolve(dir, mod[0].source));
				if (sub && !sub.output[r[2]]) bad(`${rel}: module.${r[1]}.${r[2]}: ${mod[0].source} has no output ${r[2]}`);
			}
			for (const r of code.matchAll(/(?<![\w.])data\.([a-z0-9_]+)\.([\w-]+)/g))
				if (!m.data[`${r[1]}.${r[2]}`]) bad(`${rel}: data.${r[1]}.${r[2]} is not defined`);
			for (const r of code.matchAll(/(?<![\w.])(aws_[a-z0-9_]+)\.([\w-]+)/g))
				if (!m.resource[`${r[1]}.${r[2]}`]) bad(`${rel}: ${r[1]}.${r[2]} is not defined`);
		}
		for (const v of Object.keys(m.variable)) if (!used.has(v)) bad(`${rel}: variable ${v} is declared but never used`);
		for (const [name, blocks] of Object.entries(m.module)) {
			const b = blocks[0];
			const src = path.resolve(dir, b.source || "");
			const sub = parsed.get(src);
			if (!b.source || !b.source.startsWith(".") || !sub) {
				bad(`${rel}: module ${name}: source '${b.source}' is no module folder here`);
				continue;
			}
			const meta = new Set(["source", "count", "for_each", "providers", "depends_on", "version"]);
			for (const arg of Object.keys(b)) if (!meta.has(arg) && !sub.variable[arg]) bad(`${rel}: module ${name}: ${b.source} has no variable ${arg}`);
			for (const [v, decl] of Object.entries(sub.variable)) if (!("default" in decl[0]) && !(v in b)) bad(`${rel}: module ${name}: required variable ${v} is not passed`);
		}
	}

	const iam = parsed.get(path.join(root, "modules", "revenant-iam"));
	const out = {};
	if (!iam) bad("no modules/revenant-iam");
	else
		for (const name of ["replicate", "prune", "route53"]) {
			const doc = iam.data[`aws_iam_policy_document.${name}`];
			if (!doc) {
				bad(`modules/revenant-iam: no aws_iam_policy_document.${name}`);
				continue;
			}
			// Plain statements only: the dynamic ones are KMS, not revenant's calls.
			// A resource that is one local is given as that local's expression.
			const locals = Object.assign({}, ...iam.locals);
			const res = (r) => {
				const m = r.match(/^\$\{local\.([\w-]+)\}$/);
				return m && typeof locals[m[1]] === "string" ? locals[m[1]] : r;
			};
			out[name] = (doc[0].statement || []).map((s) => ({
				actions: s.actions || [],
				resources: (s.resources || []).map(res),
			}));
		}
	fs.writeFileSync(process.argv[3], JSON.stringify(out, null, 1));
	if (process.argv[4]) fs.writeFileSync(process.argv[4], JSON.stringify(tree));
	if (problems.length) {
		for (const p of problems) console.error(`tf_check: ${p}`);
		process.exit(1);
	}
	console.log(`ok: ${[...parsed.keys()].length} folders, ${[...parsed.values()].reduce((n, m) => n + m._raw.length, 0)} files`);
}
main().catch((e) => {
	console.error(`tf_check: ${e.stack || e}`);
	process.exit(1);
});
