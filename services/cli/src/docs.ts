import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { loadDocsConfig, openDocumentLibrary } from "@chatq/worker";

export const DOCS_USAGE = `  docs add --tenant T --collection C FILE…     load or replace documents (.txt .md .html .pdf): chunked,
                                               embedded through the shared budget, stored; the document's
                                               name is the file's name
  docs delete --tenant T --collection C NAME…  remove documents and all their chunks
  docs list --tenant T --collection C          documents and their chunk counts
  docs search --tenant T --collection C [--k 4] TEXT   the chunks a request would be given`;

/** `chatq docs …`: one JSON line per document on stdout, notes on stderr. Returns the exit code. */
export async function runDocs(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: [...rest],
    allowPositionals: true,
    options: {
      tenant: { type: "string" },
      collection: { type: "string" },
      k: { type: "string", default: "4" },
    },
  });
  const { tenant, collection } = values;
  if (!tenant || !collection) throw new DocsUsageError("docs needs --tenant and --collection");
  if (!["add", "delete", "list", "search"].includes(action ?? "")) {
    throw new DocsUsageError(`docs: unknown action ${action ?? "(none)"}`);
  }
  if (action !== "list" && positionals.length === 0)
    throw new DocsUsageError(`docs ${action} needs at least one argument`);
  const library = await openDocumentLibrary(loadDocsConfig(env), (note) => console.error(note));
  console.error(`vector store: ${library.store.backend}`);
  let failed = 0;
  try {
    switch (action) {
      case "add":
        for (const file of positionals) {
          const document = basename(file);
          try {
            const { chunks, tokens } = await library.add(
              { tenant, collection, document },
              await readFile(file),
              file,
            );
            console.log(JSON.stringify({ document, chunks, tokens }));
          } catch (err) {
            // One bad file does not stop the others; the exit code says something failed.
            failed++;
            console.log(JSON.stringify({ document, error: errorOf(err) }));
          }
        }
        break;
      case "delete":
        for (const document of positionals) {
          console.log(
            JSON.stringify({
              document,
              deleted_chunks: await library.delete({ tenant, collection, document }),
            }),
          );
        }
        break;
      case "list":
        for (const d of await library.store.listDocuments(tenant, collection)) console.log(JSON.stringify(d));
        break;
      case "search":
        for (const h of await library.search({
          tenant,
          collection,
          text: positionals.join(" "),
          k: Number(values.k),
        })) {
          console.log(
            JSON.stringify({
              document: h.document,
              chunk: h.chunk,
              score: Number(h.score.toFixed(4)),
              text: h.text,
            }),
          );
        }
        break;
    }
  } finally {
    await library.close();
  }
  return failed > 0 ? 1 : 0;
}

export class DocsUsageError extends Error {}

function errorOf(err: unknown): { code: string; message: string } {
  const code = (err as { code?: unknown }).code;
  return { code: typeof code === "string" ? code : "error", message: (err as Error).message };
}
