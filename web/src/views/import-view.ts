/**
 * "Open a transcript": read a JSON transcript exported by the inspector ("export JSON") and show it in a tab of its
 * own, with the same ladder diagram and byte cards as a live session, ready to replay.
 */
import type { TabStrip } from '../app/tabs.ts';
import type { ToolView } from '../app/views.ts';
import { h } from '../dom.ts';
import { Inspector } from '../inspector.ts';
import { parseSessionRecord, type SessionRecord } from '../transcript-file.ts';
import { sessionInsight } from './insight.ts';

export const importView: ToolView = {
  id: 'import',
  label: 'Open a transcript',
  about: 'Replay a JSON transcript exported from a session’s byte cards.',
  create(ctx) {
    const file = h('input', { type: 'file', id: 'import-file', accept: 'application/json,.json' });
    const text = h('textarea', { id: 'import-text', rows: '6', spellcheck: 'false' });
    const problem = h('p', { class: 'import-problem', role: 'alert' });
    const show = (source: string, name: string) => {
      try {
        openRecord(ctx.tabs, parseSessionRecord(source), name);
        problem.textContent = '';
      } catch (err) {
        problem.textContent = `${name}: ${(err as Error).message}`;
      }
    };
    file.addEventListener('change', () => {
      const f = file.files?.[0];
      if (f) void f.text().then((t) => show(t, f.name));
      file.value = '';
    });
    const body = h(
      'div',
      { class: 'import-view' },
      h('p', {}, 'Every session’s byte cards have “export JSON”. Open such a file here to see its ladder and cards again and replay it step by step; nothing is sent anywhere.'),
      h('label', { for: 'import-file' }, 'Transcript file (JSON)'),
      file,
      h('label', { for: 'import-text' }, 'or paste it here'),
      text,
      h('button', { type: 'button', onclick: () => show(text.value, 'pasted transcript') }, 'Show the pasted transcript'),
      problem,
    );
    const closeButton = h('button', { type: 'button' }, 'close');
    return { title: 'Open a transcript', toolbar: [h('span', { class: 'status' }, 'replay a saved session'), closeButton], body, closeButton };
  },
};

/** A tab showing an imported record: the ladder first, the byte cards one tab away. */
export function openRecord(strip: TabStrip, record: SessionRecord, name: string): void {
  const inspector = new Inspector(record.target);
  inspector.load(record);
  const insight = sessionInsight(inspector, 1);
  const closeButton = h('button', { type: 'button' }, 'close');
  const status = h('span', { class: 'status', role: 'status' }, `imported from ${name}`);
  const tab = strip.add({ title: `imported: ${record.target}`, toolbar: [status, closeButton], body: insight.element, status, closeButton, inspector, insight, dispose: () => insight.dispose() });
  tab.setStatus(`imported from ${name}`, record.error ? 'error' : 'closed');
}
