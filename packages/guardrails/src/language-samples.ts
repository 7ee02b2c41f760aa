/** Short chat texts in six languages: what chatq's language detection is measured on (test and bench). */
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
