/**
 * The demo UI's entry: open tunneled TCP sessions in terminals, and inspect each handshake byte by byte.
 * The shell is web/src/app/app.ts; each kind of tab is a module in web/src/views/.
 */
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { startApp } from './app/app.ts';

void startApp(document.getElementById('app')!);
