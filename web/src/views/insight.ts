/**
 * A session's two pictures side by side as tabs: the byte cards (the inspector) and the ladder diagram, which follows
 * the inspector's record as it grows.
 */
import { staticTabs } from '../app/aria-tabs.ts';
import { h } from '../dom.ts';
import type { Inspector } from '../inspector.ts';
import { LadderView } from '../ladder-view.ts';

export interface Insight {
  element: HTMLElement;
  ladder: LadderView;
  /** Shows the byte cards (0) or the ladder (1). */
  show(view: 0 | 1): void;
  dispose(): void;
}

export function sessionInsight(inspector: Inspector, initial: 0 | 1 = 0): Insight {
  const ladder = new LadderView();
  const ladderPanel = h('div', { class: 'ladder-panel' }, ladder.element);
  const tabs = staticTabs('session views', [
    { title: 'Byte cards', panel: inspector.element },
    { title: 'Ladder', panel: ladderPanel },
  ], document, initial);
  ladder.update(inspector.toJSON());
  const stop = inspector.onChange(() => ladder.update(inspector.toJSON()));
  return {
    element: h('div', { class: 'insight' }, tabs.list, inspector.element, ladderPanel),
    ladder,
    show: (view) => tabs.select(view),
    dispose: stop,
  };
}
