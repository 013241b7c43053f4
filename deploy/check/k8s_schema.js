// k8s_schema.js - validates Kubernetes objects offline against the API's
// schemas, as npm kubernetes-models 4.x carries them (Kubernetes 1.27+).
//
//   node deploy/check/k8s_schema.js OBJECTS.json
//
// OBJECTS.json is a JSON array of objects (tests/integration/deploy_k8s.sh
// makes it from `kubectl kustomize`).  Each object is checked twice:
//   1. kubernetes-models' own validate(): types, enums, required fields;
//   2. a walk of the object against the models' TypeScript declarations,
//      which name every field of every type: a field no declaration names
//      is an error.  (validate() accepts unknown fields, and a misspelt or
//      misplaced key is what the API server would silently drop.)
// Kinds the models do not know (custom resources) are reported as errors
// too, unless their apiVersion is listed in CUSTOM below with the check the
// caller made instead.
// Exits 1 with one line per problem; prints "ok: N objects" otherwise.
"use strict";
const fs = require("fs");
const path = require("path");

const MODELS = path.dirname(require.resolve("kubernetes-models/package.json"));
const APIMACHINERY = path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json"));
// Custom resources checked elsewhere (deploy/check/k8s_check.py).
const CUSTOM = new Set(["monitoring.coreos.com/v1"]);

// One parsed declaration file: its interface's fields, and where the
// types it imports live.
const declCache = new Map();
function parseDecl(file) {
	if (declCache.has(file)) return declCache.get(file);
	const src = fs.readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
	const imports = new Map();
	for (const m of src.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
		for (const name of m[1].split(",").map((s) => s.trim())) imports.set(name, m[2]);
	}
	const body = src.match(/export interface \w+(?: extends \w+)? \{([\s\S]*?)\n\}/);
	let fields = null;
	if (body) {
		fields = new Map();
		// Top-level fields are indented by four spaces; nested map types by more.
		const re = /^ {4}"([^"]+)"(\??): ([\s\S]*?);$(?=\n {4}"|\n?$)/gm;
		for (const m of body[1].matchAll(re)) fields.set(m[1], { optional: m[2] === "?", type: m[3] });
	}
	const d = { file, imports, fields };
	declCache.set(file, d);
	return d;
}

function resolveImport(fromFile, spec) {
	let base;
	if (spec.startsWith(".")) base = path.resolve(path.dirname(fromFile), spec);
	else if (spec.startsWith("@kubernetes-models/apimachinery/"))
		base = path.join(APIMACHINERY, spec.slice("@kubernetes-models/apimachinery/".length));
	else return null;
	return base + ".d.ts";
}

// The declaration file of a type expression's element, if it is an
// interface of the models; null for leaves (string, number, unions,
// Quantity/IntOrString aliases, free-form maps of those).
function typeRef(decl, type) {
	type = type.trim();
	let m;
	if ((m = type.match(/^Array<(\w+)>$/))) return { kind: "array", ref: refFile(decl, m[1]) };
	if ((m = type.match(/^\{\s*\[key: string\]: (\w+);\s*\}$/))) return { kind: "map", ref: refFile(decl, m[1]) };
	if ((m = type.match(/^(\w+)$/))) return { kind: "one", ref: refFile(decl, m[1]) };
	return { kind: "leaf", ref: null };
}
function refFile(decl, name) {
	const spec = decl.imports.get(name);
	if (!spec) return null;
	const f = resolveImport(decl.file, spec);
	if (!f || !fs.existsSync(f)) return null;
	return parseDecl(f).fields ? f : null;
}

function walk(obj, file, where, errors) {
	if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return;
	const decl = parseDecl(file);
	if (!decl.fields) return;
	for (const [k, v] of Object.entries(obj)) {
		const f = decl.fields.get(k);
		if (!f) {
			errors.push(`${where}.${k}: unknown field (${path.basename(file, ".d.ts")} has ${[...decl.fields.keys()].join(", ")})`);
			continue;
		}
		const t = typeRef(decl, f.type);
		if (!t.ref) continue;
		if (t.kind === "array" && Array.isArray(v)) v.forEach((x, i) => walk(x, t.ref, `${where}.${k}[${i}]`, errors));
		else if (t.kind === "map" && v && typeof v === "object")
			for (const [mk, mv] of Object.entries(v)) walk(mv, t.ref, `${where}.${k}[${mk}]`, errors);
		else if (t.kind === "one") walk(v, t.ref, `${where}.${k}`, errors);
	}
}

function modelFor(apiVersion, kind) {
	const dir = apiVersion.includes("/") ? apiVersion : `v1`;
	const file = path.join(MODELS, dir, `${kind}.d.ts`);
	const js = path.join(MODELS, dir, `${kind}.js`);
	if (!fs.existsSync(file) || !fs.existsSync(js)) return null;
	return { file, cls: require(js)[kind] };
}

function main() {
	const objs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
	const errors = [];
	let n = 0;
	for (const o of objs) {
		const name = `${o.kind}/${o.metadata && o.metadata.name}`;
		const m = o.apiVersion && o.kind ? modelFor(o.apiVersion, o.kind) : null;
		if (!m) {
			if (!CUSTOM.has(o.apiVersion)) errors.push(`${name}: ${o.apiVersion} ${o.kind} is no kind the schemas know`);
			continue;
		}
		try {
			new m.cls(o).validate();
		} catch (e) {
			errors.push(`${name}: ${e.message}`);
		}
		walk(o, m.file, name, errors);
		n++;
	}
	if (errors.length) {
		for (const e of errors) console.error(`k8s_schema: ${e}`);
		process.exit(1);
	}
	console.log(`ok: ${n} objects`);
}
main();
