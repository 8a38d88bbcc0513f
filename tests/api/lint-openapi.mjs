// Lints docs/openapi.yaml: valid against the OpenAPI 3.1 schema (@seriousme/openapi-schema-
// validator, pinned in package.json), every $ref resolves, and every operation has a unique
// operationId and answers its errors with the Error schema. Exits 1 with the problems listed.
//
//   node api/lint-openapi.mjs ../docs/openapi.yaml
import { Validator } from "@seriousme/openapi-schema-validator";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const file = process.argv[2];
if (!file) {
  console.error("usage: node api/lint-openapi.mjs OPENAPI.yaml");
  process.exit(2);
}
const document = parse(readFileSync(file, "utf8"));
const problems = [];

const validator = new Validator();
const result = await validator.validate(document);
if (!result.valid) {
  for (const error of result.errors) problems.push(`schema: ${JSON.stringify(error)}`);
}

// Every local $ref points at something.
function resolve(pointer) {
  return pointer
    .replace(/^#\//, "")
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((node, key) => (node === undefined ? undefined : node[key]), document);
}
(function walk(node, where) {
  if (Array.isArray(node)) return node.forEach((item, i) => walk(item, `${where}/${i}`));
  if (node === null || typeof node !== "object") return;
  if (typeof node.$ref === "string" && resolve(node.$ref) === undefined)
    problems.push(`${where}: $ref ${node.$ref} resolves to nothing`);
  for (const [key, value] of Object.entries(node)) walk(value, `${where}/${key}`);
})(document, "#");

// Operations: unique ids; error answers are {"error": ...}.
const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const ids = new Set();
for (const [path, item] of Object.entries(document.paths ?? {})) {
  for (const method of methods.filter((m) => item[m])) {
    const operation = item[method];
    const where = `${method.toUpperCase()} ${path}`;
    if (!operation.operationId) problems.push(`${where}: no operationId`);
    else if (ids.has(operation.operationId)) problems.push(`${where}: operationId used twice`);
    ids.add(operation.operationId);
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      const answer = response.$ref ? resolve(response.$ref) : response;
      if (!answer?.description) problems.push(`${where} ${status}: no description`);
      const schema = answer?.content?.["application/json"]?.schema;
      const isError = Number(status) >= 400 && !(path === "/readyz" && status === "503");
      if (isError && schema?.$ref !== "#/components/schemas/Error")
        problems.push(`${where} ${status}: an error answer must use the Error schema`);
    }
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`${file}: ${problem}`);
  process.exit(1);
}
console.log(`${file}: OpenAPI ${validator.version}, ${ids.size} operations, no problems`);
