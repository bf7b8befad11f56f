/** The tool views shown under "Tools" in the sidebar, in this order. Add a view here to register it. */
import type { ToolView } from '../app/views.ts';
import { importView } from './import-view.ts';
import { byteLabView } from './byte-lab.ts';
import { compareView } from './compare-view.ts';

export const TOOL_VIEWS: ToolView[] = [importView, byteLabView, compareView];
