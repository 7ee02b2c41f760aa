import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export interface Asset {
  contentType: string;
  body: Buffer;
}
export type StaticAssets = ReadonlyMap<string, Asset>;

const PAGE_DIR = resolve(import.meta.dirname, "page");

/** The chat page, read once at start: a fixed list of files, so no path from a request ever reaches the disk. */
export function loadChatPage(dir: string = PAGE_DIR): StaticAssets {
  const file = (name: string, contentType: string): Asset => ({
    contentType,
    body: readFileSync(resolve(dir, name)),
  });
  const index = file("index.html", "text/html; charset=utf-8");
  return new Map([
    ["/", index],
    ["/index.html", index],
    ["/chat.js", file("chat.js", "text/javascript; charset=utf-8")],
    ["/chat.css", file("chat.css", "text/css; charset=utf-8")],
  ]);
}
