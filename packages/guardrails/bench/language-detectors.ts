/**
 * Language detectors on short chat texts: accuracy, µs per text and resident memory once loaded, each detector
 * in its own process so memory is its own. Run: `pnpm bench language` (or node bench/language-detectors.ts).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// biome-ignore format: one sample per line reads better
export const SAMPLES: readonly [string, string][] = [
  ["en", "How do I reset my password?"], ["en", "What time does the store open?"], ["en", "Thanks, that worked!"],
  ["en", "Can you help me with my order"], ["en", "Where is my parcel?"], ["en", "I want to cancel my subscription"],
  ["en", "Is this available in blue?"], ["en", "My card was charged twice"], ["en", "hello there"],
  ["en", "Please explain how refunds work"],
  ["es", "¿Cómo cambio mi contraseña?"], ["es", "¿A qué hora abre la tienda?"], ["es", "Gracias, ya funciona"],
  ["es", "Quiero cancelar mi suscripción"], ["es", "¿Dónde está mi pedido?"], ["es", "Me cobraron dos veces"],
  ["es", "hola, necesito ayuda"], ["es", "¿Tienen envío a Canarias?"], ["es", "Explícame cómo funcionan las devoluciones"],
  ["es", "No puedo entrar en mi cuenta"],
  ["fr", "Comment réinitialiser mon mot de passe ?"], ["fr", "À quelle heure ouvre le magasin ?"],
  ["fr", "Merci, ça marche !"], ["fr", "Je veux annuler mon abonnement"], ["fr", "Où est mon colis ?"],
  ["fr", "On m'a débité deux fois"], ["fr", "bonjour, j'ai besoin d'aide"], ["fr", "Expliquez-moi les remboursements"],
  ["fr", "Je n'arrive pas à me connecter"], ["fr", "Est-ce disponible en bleu ?"],
  ["de", "Wie setze ich mein Passwort zurück?"], ["de", "Wann öffnet der Laden?"], ["de", "Danke, es funktioniert!"],
  ["de", "Ich möchte mein Abo kündigen"], ["de", "Wo ist mein Paket?"], ["de", "Mir wurde zweimal abgebucht"],
  ["de", "Hallo, ich brauche Hilfe"], ["de", "Erklären Sie mir bitte die Rückerstattung"],
  ["de", "Ich kann mich nicht anmelden"], ["de", "Gibt es das auch in Blau?"],
  ["it", "Come reimposto la password?"], ["it", "Grazie, funziona!"], ["it", "Dov'è il mio pacco?"],
  ["it", "Voglio annullare il mio abbonamento"], ["pt", "Como redefino minha senha?"], ["pt", "Obrigado, funcionou!"],
  ["pt", "Onde está minha encomenda?"], ["pt", "Quero cancelar minha assinatura"],
];

type Detect = (text: string) => string;

async function load(name: string): Promise<Detect> {
  if (name === "tinyld") {
    const { detect } = await import("tinyld");
    return (t) => detect(t);
  }
  if (name === "tinyld-light") {
    const { detect } = await import("tinyld/light");
    return (t) => detect(t);
  }
  if (name === "franc-min") {
    const { franc } = await import("franc-min");
    const iso3: Record<string, string> = { eng: "en", spa: "es", fra: "fr", deu: "de", ita: "it", por: "pt" };
    return (t) => iso3[franc(t, { minLength: 1 })] ?? "und";
  }
  if (name === "eld") {
    const { eld } = await import("eld/small");
    return (t) => eld.detect(t).language;
  }
  throw new Error(`unknown detector ${name}`);
}

async function measureOne(name: string): Promise<void> {
  const before = process.memoryUsage().rss;
  const detect = await load(name);
  let right = 0;
  for (const [lang, text] of SAMPLES) if (detect(text) === lang) right++;
  const rounds = 20;
  const started = performance.now();
  for (let r = 0; r < rounds; r++) for (const [, text] of SAMPLES) detect(text);
  const us = ((performance.now() - started) * 1000) / (rounds * SAMPLES.length);
  const mb = (process.memoryUsage().rss - before) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ detector: name, correct: `${right}/${SAMPLES.length}`, us_per_text: Math.round(us * 10) / 10, added_rss_mb: Math.round(mb) })}\n`,
  );
}

const only = process.argv[2];
if (only !== undefined) await measureOne(only);
else {
  for (const name of ["tinyld", "tinyld-light", "franc-min", "eld"]) {
    try {
      process.stdout.write(
        execFileSync(process.execPath, [fileURLToPath(import.meta.url), name], { encoding: "utf8" }),
      );
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ detector: name, error: String(err).slice(0, 200) })}\n`);
    }
  }
}
