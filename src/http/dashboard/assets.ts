/**
 * The dashboard's static assets, served at /dashboard/assets/<name> with a content hash in the
 * URL (cached for a year; a new build is a new URL): our stylesheet and chart script (text in
 * this file, so `npm run build` is tsc as before), and uPlot's browser build and stylesheet read
 * from its installed package (node_modules/uplot/dist; no bundler). The Content-Security-Policy
 * of the dashboard allows scripts and styles from here only.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RequestHandler } from 'express';
import { AppError } from '../../lib/errors';

/** Mobile-first: one column on a phone, navigation as a wrapping row; a side column from 60rem. */
const DASHBOARD_CSS = `
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#1d2430;background:#f5f6f8;line-height:1.4}
a{color:#0b57a4}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.6rem 1rem;background:#12324f;color:#fff}
header.top a.brand{color:#fff;font-weight:700;text-decoration:none;font-size:1.15rem}
header.top .who{flex:1;min-width:10rem;font-size:.9rem;overflow-wrap:anywhere}
header.top form.logout{margin:0}
header.top button{background:transparent;color:#fff;border:1px solid #fff8}
nav ul{list-style:none;margin:0;padding:.4rem .6rem;display:flex;flex-wrap:wrap;gap:.3rem;background:#fff;border-bottom:1px solid #dde1e6}
nav a{display:block;padding:.35rem .6rem;border-radius:.3rem;text-decoration:none}
nav a[aria-current=page]{background:#12324f;color:#fff}
main{padding:1rem;max-width:72rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.4rem 0 .6rem}
.scroll{overflow-x:auto;background:#fff;border:1px solid #dde1e6;border-radius:.4rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.45rem .6rem;text-align:left;border-bottom:1px solid #e8ebef;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
form{margin:0}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;gap:.15rem}
input,select,button{font:inherit;padding:.4rem .55rem;border:1px solid #b9c0c8;border-radius:.3rem;background:#fff;color:inherit;max-width:100%}
button{cursor:pointer;background:#12324f;color:#fff;border-color:#12324f}
button.danger{background:#a3221b;border-color:#a3221b}
.flash{padding:.6rem .8rem;border-radius:.3rem;margin:0 0 1rem}
.flash.ok{background:#e3f4e6;color:#1d5b2a}
.flash.error{background:#fbe5e3;color:#8a1c14}
.empty{color:#5b6570}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.6rem;margin-bottom:1rem}
.card{background:#fff;border:1px solid #dde1e6;border-radius:.4rem;padding:.6rem .8rem}
.card b{display:block;font-size:1.4rem}
.charts{display:grid;grid-template-columns:1fr;gap:1rem}
figure.chart{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:.4rem;padding:.6rem}
figure.chart figcaption{font-weight:600;margin-bottom:.4rem}
figure.chart .plot{min-height:12rem}
figure.chart details{margin-top:.4rem;font-size:.85rem}
.status-pending,.status-sending{color:#7a5a00}
.status-ack{color:#1d5b2a}
.status-nak,.status-timeout,.status-failed{color:#8a1c14}
.pager{display:flex;gap:1rem;margin:.8rem 0}
@media (min-width:60rem){
  body{display:grid;grid-template-columns:12rem 1fr;grid-template-rows:auto 1fr}
  header.top{grid-column:1/3}
  nav ul{flex-direction:column;min-height:100%;border-bottom:0;border-right:1px solid #dde1e6}
  .charts{grid-template-columns:1fr 1fr}
}
`;

/**
 * Draws every <figure class="chart"> from the JSON in its <script type="application/json">
 * ({x: unix seconds, series: [{label, values}], y: axis label, tz: the zone the x axis is labelled
 * in, default UTC (per-day charts send the tenant's days as UTC midnights)}) with uPlot, redrawn to the
 * figure's width; marks the figure data-drawn="<points>" once drawn. Without JavaScript the
 * figure's table shows the same numbers.
 */
const CHARTS_JS = `(function(){
var COLORS=['#0b57a4','#c2410c','#15803d','#7c3aed'];
function draw(fig){
  var src=fig.querySelector('script[type="application/json"]'),box=fig.querySelector('.plot');
  if(!src||!box||typeof uPlot!=='function')return;
  var d=JSON.parse(src.textContent),data=[d.x],series=[{}];
  d.series.forEach(function(s,i){data.push(s.values);series.push({label:s.label,stroke:COLORS[i%COLORS.length],width:2,fill:i===0?COLORS[0]+'22':undefined,points:{show:d.x.length<40}})});
  var w=Math.max(240,box.clientWidth);
  var u=new uPlot({width:w,height:220,series:series,scales:{x:{time:true}},tzDate:function(ts){return uPlot.tzDate(new Date(ts*1e3),d.tz||'Etc/UTC')},axes:[{},{label:d.y,size:60}],legend:{show:true}},data,box);
  var n=0;d.series.forEach(function(s){n+=s.values.length});
  fig.setAttribute('data-drawn',String(n));
  window.addEventListener('resize',function(){u.setSize({width:Math.max(240,box.clientWidth),height:220})});
}
function all(){Array.prototype.forEach.call(document.querySelectorAll('figure.chart'),draw)}
if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',all);else all();
})();
`;

interface Asset {
  type: string;
  body: Buffer;
  hash: string;
}

function asset(type: string, body: string | Buffer): Asset {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return { type, body: b, hash: createHash('sha256').update(b).digest('hex').slice(0, 12) };
}

const ASSETS: Record<string, Asset> = {
  'dashboard.css': asset('text/css; charset=utf-8', DASHBOARD_CSS),
  'charts.js': asset('text/javascript; charset=utf-8', CHARTS_JS),
  'uplot.js': asset('text/javascript; charset=utf-8', readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'))),
  'uplot.css': asset('text/css; charset=utf-8', readFileSync(require.resolve('uplot/dist/uPlot.min.css'))),
};

/** The URL of an asset, with its content hash (unknown names are a programming error). */
export function assetUrl(name: string): string {
  const a = ASSETS[name];
  if (!a) throw new Error(`no dashboard asset ${name}`);
  return `/dashboard/assets/${a.hash}/${name}`;
}

/** GET /assets/:hash/:name (any hash is answered with the current file: an old page still works). */
export const serveAsset: RequestHandler = (req, res, next) => {
  const a = Object.hasOwn(ASSETS, String(req.params.name)) ? ASSETS[String(req.params.name)] : undefined;
  if (!a) return next(new AppError('ROUTE_NOT_FOUND', 'no such asset'));
  res.set('Cache-Control', req.params.hash === a.hash ? 'public, max-age=31536000, immutable' : 'no-cache');
  res.type(a.type).send(a.body);
};
