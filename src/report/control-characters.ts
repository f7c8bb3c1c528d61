// Text from the runner (log lines, vertex names, error messages that quote a Dockerfile of binary
// bytes) reaches a terminal or an annotation: control characters there could move the cursor,
// clear the screen, retitle the window or hide text. They are written as visible escapes here, the
// one place that does it; newlines and tabs stay, as do CRLF line ends.

/** C0 controls but tab and newline, a CR that does not end a line, DEL, C1, and Unicode's bidi overrides. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\r(?!\n)/g;

/** `text` with each control character as \xNN (or \uNNNN above U+00FF), which a terminal prints as it is. */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL, (character) => {
    const code = character.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
