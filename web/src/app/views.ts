/**
 * The registry of tool views: pages that are not a session (a byte lab, a comparison, an imported transcript).
 * Each registered view gets a button under "Tools" in the sidebar; pressing it opens the view as a tab of the main
 * tab strip (or shows the tab already open). Register a view by adding it to the list in `web/src/views/index.ts`.
 */
import type { Session } from '../../client/index.ts';
import type { DemoConfig } from './config.ts';
import type { TabContent, TabStrip } from './tabs.ts';

/** What a view may use: the bridge session, the demo's config, and the tab strip (to open further tabs). */
export interface ViewContext {
  session: Session;
  config: DemoConfig;
  tabs: TabStrip;
}

export interface ToolView {
  /** Stable id: the sidebar button is `#tool-<id>`, the tab's panel carries `data-view="<id>"`. */
  id: string;
  /** The button's and the tab's title. */
  label: string;
  /** One line under the button. */
  about?: string;
  /** Builds the tab's content; called each time the view is opened (once while its tab stays open). */
  create(ctx: ViewContext): TabContent;
}
