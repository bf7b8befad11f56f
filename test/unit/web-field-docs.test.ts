import { describe, expect, it } from 'vitest';
import { documentedKeys, familyOf, fieldParagraph, isOwnName, specUrl } from '../../web/src/field-docs.ts';
import { socksCorpus } from '../helpers/socks-corpus.ts';

describe('byte card paragraphs and links', () => {
  it('every field the decoders produce has a paragraph and a link to its text', () => {
    const used = new Set<string>();
    for (const { message, fields } of socksCorpus()) {
      for (const f of fields) {
        used.add(`${familyOf(f)}/${f.name}`);
        expect(fieldParagraph(f), `${message}: ${f.name}`).toMatch(/\w{20,}|.{60,}/);
        expect(specUrl(f.spec), `${message}: ${f.spec}`).toMatch(/^https:\/\/www\.(rfc-editor\.org\/rfc\/rfc19(28|29)#section-\d|rfc-editor\.org\/rfc\/rfc1961$|openssh\.com\/txt\/socks4a?\.protocol$)/);
      }
    }
    // No paragraph for a field that does not exist.
    expect(documentedKeys().filter((k) => !used.has(k))).toEqual([]);
  });

  it('links sections and the NEC documents', () => {
    expect(specUrl('RFC 1928 §6')).toBe('https://www.rfc-editor.org/rfc/rfc1928#section-6');
    expect(specUrl('RFC 1929 §2')).toBe('https://www.rfc-editor.org/rfc/rfc1929#section-2');
    expect(specUrl('SOCKS4 (NEC)')).toBe('https://www.openssh.com/txt/socks4.protocol');
    expect(specUrl('SOCKS4a (NEC)')).toBe('https://www.openssh.com/txt/socks4a.protocol');
    expect(isOwnName('wsocks.username_length')).toBe(true);
    expect(isOwnName('socks.results')).toBe(false);
  });
});
