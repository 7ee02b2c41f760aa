import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** How long a re-opened listener keeps trying for its port if something else holds it for a moment. */
const REBIND_TIMEOUT_MS = 5_000;

/**
 * The fake's HTTP listener on one port, which can go away and come back: closing stops accepting and drops every
 * open socket, as a crashed server's would be; opening again listens on the same port with a fresh server.
 * Changes run one after another, so the state after the last one asked for is the state it ends in.
 */
export class Listener {
  readonly #handler: RequestListener;
  readonly #host: string;
  #server: Server | undefined;
  #port: number;
  #changes: Promise<void> = Promise.resolve();

  constructor(handler: RequestListener, host: string, port: number) {
    this.#handler = handler;
    this.#host = host;
    this.#port = port;
  }

  /** The port listened on (after the first open, the one 0 picked). */
  get port(): number {
    return this.#port;
  }

  get isOpen(): boolean {
    return this.#server !== undefined;
  }

  /** Listens, on the same port as before; resolves once listening. */
  open(): Promise<void> {
    return this.#change(() => this.#open());
  }

  /** Stops listening and drops every connection, hanging requests included; resolves once all are gone. */
  close(): Promise<void> {
    return this.#change(() => this.#close());
  }

  /** Resolves once every change asked for so far is done. */
  settled(): Promise<void> {
    return this.#changes;
  }

  #change(step: () => Promise<void>): Promise<void> {
    const next = this.#changes.then(step);
    this.#changes = next.catch(() => {});
    return next;
  }

  async #open(): Promise<void> {
    if (this.#server) return;
    const server = createServer(this.#handler);
    // Longer than any client's idle keep-alive (undici: 4 s), so the client always closes first and never writes
    // into a socket the server is closing.
    server.keepAliveTimeout = 65_000;
    const deadline = Date.now() + REBIND_TIMEOUT_MS;
    for (;;) {
      try {
        await listen(server, this.#port, this.#host);
        break;
      } catch (err) {
        const inUse = (err as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (!inUse || this.#port === 0 || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async #close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
