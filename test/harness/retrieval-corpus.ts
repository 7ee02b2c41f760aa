/**
 * A corpus written for retrieval tests and benchmarks: product manuals of made-up products, each with the same
 * sections (so documents share most of their vocabulary, as a real tenant's do) and facts that exist in one
 * document only. Questions name a product and a section; the document that answers them is known.
 */

// biome-ignore format: word lists read better packed
const SYLLABLES = ["zor", "bla", "kin", "dra", "vex", "mul", "tan", "qui", "ros", "pel", "fen", "gur", "hax", "lom", "nyr", "sab"];
// biome-ignore format: word lists read better packed
const KINDS = ["kettle", "toaster", "lamp", "heater", "blender", "speaker", "router", "scooter", "camera", "drill"];
// biome-ignore format: word lists read better packed
const FILLER = [
  "Read every part of this manual before first use and keep it for later reference.",
  "The manufacturer reserves the right to change specifications without notice.",
  "Always unplug the device before cleaning or moving it to another room.",
  "Store the packaging in a dry place in case the device needs to be returned.",
  "Customer service answers questions by email on working days within two days.",
  "Children should use the device only under the supervision of an adult.",
  "Dispose of the device at a collection point for electrical equipment.",
  "The illustrations in this manual may differ slightly from the actual product.",
];

export interface CorpusDocument {
  name: string;
  product: string;
  text: string;
}

export interface CorpusQuestion {
  question: string;
  /** The document whose text answers it. */
  document: string;
}

function productName(i: number): string {
  const a = SYLLABLES[i % SYLLABLES.length] ?? "zor";
  const b = SYLLABLES[(i * 7 + 3) % SYLLABLES.length] ?? "bla";
  const c = SYLLABLES[(i * 11 + 5) % SYLLABLES.length] ?? "kin";
  return `${a}${b}${c}`;
}

/** `documents` manuals of about `sections` × 70 words each; with 120-token chunks, ~5 chunks per manual. */
export function writeCorpus(documents: number): { documents: CorpusDocument[]; questions: CorpusQuestion[] } {
  const docs: CorpusDocument[] = [];
  const questions: CorpusQuestion[] = [];
  for (let i = 0; i < documents; i++) {
    const brand = productName(i);
    const kind = KINDS[i % KINDS.length] ?? "kettle";
    const product = `${brand} ${kind}`;
    const name = `${brand}-${kind}-manual.md`;
    const months = 6 + (i % 30);
    const watts = 400 + ((i * 37) % 1600);
    const colour = ["graphite", "ivory", "crimson", "teal", "amber"][i % 5] ?? "graphite";
    const filler = (n: number) => FILLER[(i + n) % FILLER.length] ?? "";
    const text = [
      `# The ${product}`,
      `## Overview\nThe ${product} comes in ${colour}. ${filler(0)} ${filler(1)}`,
      `## Warranty\nThe ${brand} warranty covers the ${kind} for ${months} months from the date of purchase. Keep the receipt of your ${brand} ${kind}. ${filler(2)}`,
      `## Power\nThe ${brand} ${kind} draws ${watts} watts from a standard outlet and switches itself off after idling. ${filler(3)}`,
      `## Cleaning\nWipe the ${brand} ${kind} with a soft damp cloth; never immerse the ${brand} base in water. ${filler(4)} ${filler(5)}`,
      `## Troubleshooting\nIf the ${brand} ${kind} does not start, hold the ${brand} reset button for ten seconds. ${filler(6)} ${filler(7)}`,
    ].join("\n\n");
    docs.push({ name, product, text });
    questions.push(
      { question: `How many months does the ${brand} warranty last for the ${kind}?`, document: name },
      { question: `How many watts does the ${brand} ${kind} draw?`, document: name },
      { question: `My ${brand} ${kind} does not start: which reset button?`, document: name },
    );
  }
  return { documents: docs, questions };
}
