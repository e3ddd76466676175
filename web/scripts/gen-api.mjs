// Regenerate the typed API client's schema: dump the FastAPI OpenAPI document, then turn it into
// TypeScript types. Run with `npm run api` (PYTHON overrides the interpreter; default ../.venv).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const python = process.env.PYTHON ?? join(web, "..", ".venv", "bin", "python");
const schema = execFileSync(python, [join(web, "scripts", "dump_openapi.py")], { encoding: "utf8" });
writeFileSync(join(web, "src", "api", "openapi.json"), schema);
execFileSync(
  join(web, "node_modules", ".bin", "openapi-typescript"),
  [join(web, "src", "api", "openapi.json"), "-o", join(web, "src", "api", "schema.d.ts")],
  { stdio: "inherit" },
);
