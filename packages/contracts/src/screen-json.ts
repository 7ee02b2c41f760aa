import { PROTOTYPE_KEYS } from "./request-limits.ts";
import { isStorableText } from "./storable-text.ts";

/** The first thing in a parsed JSON value that chatq will not carry, and where it is. */
export type JsonHazard =
  | { kind: "too_deep"; path: string; maxDepth: number }
  | { kind: "unstorable_text"; path: string }
  | { kind: "prototype_key"; path: string }
  | { kind: "not_finite"; path: string };

/** A path as a linked list, so a frame costs O(1) however deep it is; spelled out only for the one reported. */
interface PathNode {
  key: string;
  parent: PathNode | undefined;
}

interface Frame {
  container: object;
  /** Containers enclosing this one, itself included: the root object or array is at depth 1. */
  depth: number;
  at: PathNode | undefined;
}

/**
 * One iterative pass over a value that came out of JSON.parse, stopping at the first hazard it meets (a
 * container's own strings and numbers before what is nested in it): nesting deeper than `maxDepth` containers, a string or key that is not storable text, a prototype key, or a
 * number JSON.parse turned into ±Infinity (`1e400`). On the way, -0 becomes 0, so the value survives
 * JSON.stringify and back unchanged. No recursion: the depth of the input cannot reach the call stack, and each
 * node is visited once, so the work is linear in the size of the text.
 */
export function screenJson(root: unknown, maxDepth: number): JsonHazard | undefined {
  if (typeof root === "string")
    return isStorableText(root) ? undefined : { kind: "unstorable_text", path: "" };
  if (typeof root === "number") return Number.isFinite(root) ? undefined : { kind: "not_finite", path: "" };
  if (typeof root !== "object" || root === null) return undefined;
  const stack: Frame[] = [{ container: root, depth: 1, at: undefined }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    if (frame.depth > maxDepth) return { kind: "too_deep", path: spell(frame.at), maxDepth };
    const children: Frame[] = [];
    const hazard = Array.isArray(frame.container)
      ? screenArray(frame.container, frame, children)
      : screenObject(frame.container as Record<string, unknown>, frame, children);
    if (hazard !== undefined) return hazard;
    // Reversed onto the stack, so nested containers are screened in the order they appear.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Frame);
  }
  return undefined;
}

function screenArray(array: unknown[], frame: Frame, children: Frame[]): JsonHazard | undefined {
  for (let i = 0; i < array.length; i++) {
    const value = array[i];
    if (Object.is(value, -0)) array[i] = 0;
    const hazard = screenChild(value, String(i), frame, children);
    if (hazard !== undefined) return hazard;
  }
  return undefined;
}

function screenObject(
  object: Record<string, unknown>,
  frame: Frame,
  children: Frame[],
): JsonHazard | undefined {
  for (const key of Object.keys(object)) {
    if (!isStorableText(key)) return { kind: "unstorable_text", path: spell({ key, parent: frame.at }) };
    if (PROTOTYPE_KEYS.has(key)) return { kind: "prototype_key", path: spell({ key, parent: frame.at }) };
    const value = object[key];
    if (Object.is(value, -0)) object[key] = 0;
    const hazard = screenChild(value, key, frame, children);
    if (hazard !== undefined) return hazard;
  }
  return undefined;
}

function screenChild(value: unknown, key: string, frame: Frame, children: Frame[]): JsonHazard | undefined {
  if (typeof value === "string") {
    return isStorableText(value)
      ? undefined
      : { kind: "unstorable_text", path: spell({ key, parent: frame.at }) };
  }
  if (typeof value === "number") {
    return Number.isFinite(value)
      ? undefined
      : { kind: "not_finite", path: spell({ key, parent: frame.at }) };
  }
  if (typeof value === "object" && value !== null) {
    children.push({ container: value, depth: frame.depth + 1, at: { key, parent: frame.at } });
  }
  return undefined;
}

/** `messages.0.content`, as zod spells paths; "" for the root. */
function spell(at: PathNode | undefined): string {
  const keys: string[] = [];
  for (let node = at; node !== undefined; node = node.parent) keys.push(node.key);
  return keys.reverse().join(".");
}
