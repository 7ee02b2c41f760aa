import { extname } from "node:path";
import { convert } from "html-to-text";
import { RetrievalError } from "./vector-store.ts";

export type DocumentFormat = "text" | "markdown" | "html" | "pdf";

const BY_EXTENSION: Readonly<Record<string, DocumentFormat>> = {
  ".txt": "text",
  ".text": "text",
  ".md": "markdown",
  ".markdown": "markdown",
  ".html": "html",
  ".htm": "html",
  ".pdf": "pdf",
};

/** The format a file name says, or an unsupported_file error naming what is accepted. */
export function formatOf(fileName: string): DocumentFormat {
  const format = BY_EXTENSION[extname(fileName).toLowerCase()];
  if (!format) {
    throw new RetrievalError(
      "unsupported_file",
      `${fileName}: only ${Object.keys(BY_EXTENSION).join(", ")} files can be loaded`,
    );
  }
  return format;
}

/**
 * A document's plain text, what is chunked and embedded. Markdown stays as it is (its markup is a few tokens and
 * headings help the model); HTML loses its tags, scripts and styles; PDF gives its text layer (a scanned PDF has
 * none: that is an error, not an empty document).
 */
export async function extractText(
  bytes: Uint8Array,
  format: DocumentFormat,
  fileName = "document",
): Promise<string> {
  switch (format) {
    case "text":
    case "markdown":
      return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    case "html":
      return convert(new TextDecoder().decode(bytes), {
        wordwrap: false,
        selectors: [
          { selector: "a", options: { ignoreHref: true } },
          { selector: "img", format: "skip" },
        ],
      });
    case "pdf": {
      // Loaded only for PDFs: pdf.js is large.
      const { extractText: pdfText, getDocumentProxy } = await import("unpdf");
      const pdf = await getDocumentProxy(new Uint8Array(bytes));
      const { text } = await pdfText(pdf, { mergePages: true });
      if (text.trim() === "") {
        throw new RetrievalError("unsupported_file", `${fileName}: the PDF has no text layer (scanned?)`);
      }
      return text;
    }
  }
}
