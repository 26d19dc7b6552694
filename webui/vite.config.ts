/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import tailwindcss from '@tailwindcss/vite'

// PIC_API_URL lets `npm run dev` proxy /api and /health to a running management API
// (default: the API's own listen address on a cell, 127.0.0.1:3000).
const apiTarget = process.env.PIC_API_URL ?? 'http://127.0.0.1:3000'

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false },
      '/health': { target: apiTarget, changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false },
      '/health': { target: apiTarget, changeOrigin: false },
      // Files caddy serves beside the UI on a cell (the root certificate, the HTTPS addresses): the
      // browser tests' local API (tests/ui/serve_api.py) serves them as caddy would.
      '/ca.crt': { target: apiTarget, changeOrigin: false },
      '/cell.json': { target: apiTarget, changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    testTimeout: 20000,
  },
})
