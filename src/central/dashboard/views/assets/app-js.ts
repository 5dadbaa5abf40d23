// The dashboard's only script, served as /assets/app.js (the CSP allows no inline script).
// Progressive enhancement: every page works without it.
export const APP_JS = `'use strict';
(function () {
  // Show times in the viewer's zone; the server renders UTC.
  var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (!isNaN(d.getTime())) {
      el.title = el.textContent;
      el.textContent = fmt.format(d);
    }
  });
  // Copy buttons for rule scripts.
  document.querySelectorAll('button[data-copy]').forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener('click', function () {
      var target = document.getElementById(btn.getAttribute('data-copy'));
      if (!target || !navigator.clipboard) return;
      navigator.clipboard.writeText(target.textContent).then(function () {
        var label = btn.textContent;
        btn.textContent = 'Copied';
        setTimeout(function () { btn.textContent = label; }, 1500);
      });
    });
  });
})();
`;
