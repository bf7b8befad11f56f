import { defineConfig } from 'vite';

// The web client and demo UI live in web/; tests have their own vitest.config.ts.
export default defineConfig({
  root: 'web',
  build: { outDir: '../dist/demo', emptyOutDir: true },
  server: { host: '127.0.0.1', strictPort: false },
});
