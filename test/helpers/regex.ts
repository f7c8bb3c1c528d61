/** `text` as a RegExp source that matches it literally (slashes too, for /…/-style messages). */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
