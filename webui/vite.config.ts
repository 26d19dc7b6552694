/// <reference types="vitest/config" />
import { defineConfig, type ProxyOptions } from 'vite'
import react from '@vitejs/plugin-react'
import tailwindcss from '@tailwindcss/vite'

// PIC_API_URL lets `npm run dev` proxy /api and /health to a running management API
// (default: the API's own listen address on a cell, 127.0.0.1:3000).
const apiTarget = process.env.PIC_API_URL ?? 'http://127.0.0.1:3000'
// PIC_DAV_URL: the WebDAV server the Files page reaches at /dav/ (on a cell caddy proxies it; the
// browser tests' local API starts one). As caddy does, the /dav prefix goes, from the path and from
// a MOVE's Destination, and the server's WWW-Authenticate stays away from the browser.
const davTarget = process.env.PIC_DAV_URL ?? 'http://127.0.0.1:8080'
const davProxy: ProxyOptions = {
  target: davTarget,
  changeOrigin: false,
  rewrite: (p) => p.replace(/^\/dav/, ''),
  configure: (proxy) => {
    proxy.on('proxyReq', (req) => {
      const destination = req.getHeader('destination')
      if (typeof destination === 'string') req.setHeader('destination', destination.replace(/^(https?:\/\/[^/]+)\/dav\//, '$1/'))
    })
    proxy.on('proxyRes', (res) => {
      delete res.headers['www-authenticate']
    })
  },
}

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false },
      '/health': { target: apiTarget, changeOrigin: false },
      '/dav/': davProxy,
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
      '/dav/': davProxy,
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
