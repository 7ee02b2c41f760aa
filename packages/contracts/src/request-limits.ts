/**
 * Deepest nesting a request may have, counting the request object itself as level 1 (so `metadata`'s own
 * object is level 2). chatq's schema needs 3; free-form `metadata` of real producers rarely passes 5. Deeper
 * values break consumers that recurse: V8's JSON.stringify throws at a few thousand levels, Rust's serde_json
 * refuses 128 by default, Python's json module stops near 1000. 64 keeps every request readable by all of them.
 */
export const MAX_NESTING_DEPTH = 64;

/**
 * Keys that reach an object's prototype in JavaScript (`obj.__proto__`, `obj.constructor.prototype`). As data
 * they are how prototype pollution travels: a consumer that merges or assigns them (lodash.merge,
 * Object.assign, a hand-written deep copy) changes objects it never meant to touch. Refused anywhere in a request.
 */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** Longest rejection message, in UTF-16 units: it is a DLQ header, an audit row and part of a `rejected` reply. */
export const REJECTION_MESSAGE_MAX_LENGTH = 1000;
