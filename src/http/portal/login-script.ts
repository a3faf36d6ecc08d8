/**
 * The login page's one script: MikroTik's CHAP response computed in the browser, then the form
 * posted to the router's link-login-only. The password = hex MD5(chap-id || password ||
 * chap-challenge) over the bytes the router's octal escapes stand for (protocols.md 2.4), so
 * only a one-time hash crosses the hotspot's plain-HTTP link. MD5 written here (RFC 1321, about
 * 30 lines) rather than a library: it is all the page needs and it stays under a kilobyte.
 * Static text, so the Content-Security-Policy allows it by its hash; the values come from the
 * form's data- attributes.
 */
import { createHash } from 'node:crypto';

export const LOGIN_SCRIPT = `(function(){
var f=document.getElementById('login');if(!f)return;
function oct(s){var o=[];s.replace(/\\\\([0-7]{3})/g,function(_,d){o.push(parseInt(d,8));return ''});return o}
function utf8(s){var b=unescape(encodeURIComponent(s)),o=[];for(var i=0;i<b.length;i++)o.push(b.charCodeAt(i));return o}
function md5(m){var K=[],S=[7,12,17,22,5,9,14,20,4,11,16,23,6,10,15,21],i,j;
for(i=0;i<64;i++)K[i]=Math.floor(Math.abs(Math.sin(i+1))*4294967296)|0;
var n=m.length,b=m.concat([128]);while(b.length%64!==56)b.push(0);
var bits=n*8;for(i=0;i<8;i++)b.push(i<4?(bits>>>(8*i))&255:0);
var h0=0x67452301,h1=0xefcdab89|0,h2=0x98badcfe|0,h3=0x10325476;
for(var o=0;o<b.length;o+=64){var M=[];for(i=0;i<16;i++)M[i]=b[o+4*i]|(b[o+4*i+1]<<8)|(b[o+4*i+2]<<16)|(b[o+4*i+3]<<24);
var A=h0,B=h1,C=h2,D=h3;
for(i=0;i<64;i++){var F,g,r=i>>4;
if(r===0){F=(B&C)|(~B&D);g=i}else if(r===1){F=(D&B)|(~D&C);g=(5*i+1)%16}else if(r===2){F=B^C^D;g=(3*i+5)%16}else{F=C^(B|~D);g=(7*i)%16}
F=(F+A+K[i]+M[g])|0;A=D;D=C;C=B;var s=S[r*4+(i&3)];B=(B+((F<<s)|(F>>>(32-s))))|0}
h0=(h0+A)|0;h1=(h1+B)|0;h2=(h2+C)|0;h3=(h3+D)|0}
var x='';[h0,h1,h2,h3].forEach(function(w){for(j=0;j<4;j++){var v=(w>>>(8*j))&255;x+=(v<16?'0':'')+v.toString(16)}});return x}
var d=f.dataset;
f.elements.password.value=md5(oct(d.chapId).concat(utf8(d.secret),oct(d.chapChallenge)));
f.submit();
})();`;

export const LOGIN_SCRIPT_SOURCE = `'sha256-${createHash('sha256').update(LOGIN_SCRIPT).digest('base64')}'`;

/**
 * How often the status page asks for the payment's state: each ask is a few hundred bytes, and
 * the wait for the next ask is most of the time from the callback to the device online
 * (bench/portal.ts).
 */
export const POLL_INTERVAL_MS = 1000;

/**
 * The status page's script: asks for the payment's state every POLL_INTERVAL_MS and follows the
 * page's own link when it changes (the meta refresh does the same without JavaScript).
 */
export const POLL_SCRIPT = `(function(){
var e=document.getElementById('status');if(!e)return;
var u=e.dataset.poll,s=e.dataset.state;
function tick(){fetch(u,{headers:{accept:'application/json'},credentials:'same-origin'}).then(function(r){return r.json()}).then(function(j){
if(j.state!==s){location.replace(e.dataset.next)}else{setTimeout(tick,${POLL_INTERVAL_MS})}}).catch(function(){setTimeout(tick,4000)})}
setTimeout(tick,${POLL_INTERVAL_MS});
})();`;

export const POLL_SCRIPT_SOURCE = `'sha256-${createHash('sha256').update(POLL_SCRIPT).digest('base64')}'`;
