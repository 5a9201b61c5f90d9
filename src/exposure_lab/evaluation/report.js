(function(){
function sortTable(th){
  var table=th.closest('table'),body=table.tBodies[0],index=Array.prototype.indexOf.call(th.parentNode.children,th);
  var descending=th.getAttribute('aria-sort')!=='descending';
  Array.prototype.forEach.call(th.parentNode.children,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',descending?'descending':'ascending');
  var numeric=th.dataset.type==='number';
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=a.children[index].dataset.sort,y=b.children[index].dataset.sort;
    if(numeric){
      if(x===''&&y==='')return 0; if(x==='')return 1; if(y==='')return -1;
      return descending?parseFloat(y)-parseFloat(x):parseFloat(x)-parseFloat(y);
    }
    return descending?y.localeCompare(x):x.localeCompare(y);
  });
  rows.forEach(function(r){body.appendChild(r);});
}
document.querySelectorAll('table.sortable thead th').forEach(function(th){
  th.addEventListener('click',function(){sortTable(th);});
});
function option(select,value,text){var o=document.createElement('option');o.value=value;o.textContent=text;select.appendChild(o);}
document.querySelectorAll('.viewer').forEach(function(root){
  var data=JSON.parse(root.querySelector('.v-data').textContent);
  var pick=root.querySelector('.v-image'),left=root.querySelector('.v-left'),right=root.querySelector('.v-right');
  var before=root.querySelector('.v-before'),after=root.querySelector('.v-after'),slider=root.querySelector('.v-slider');
  var handle=root.querySelector('.v-handle'),scores=root.querySelector('.v-scores'),strip=root.querySelector('.v-strip');
  data.images.forEach(function(image,i){option(pick,i,image.name);});
  function current(){return data.images[+pick.value];}
  function wipe(){
    var p=+slider.value;
    before.style.clipPath='inset(0 '+(100-p)+'% 0 0)';
    handle.style.left=p+'%';
  }
  function show(){
    var image=current(),l=+left.value,r=+right.value;
    before.src=image.panels[l].src; after.src=image.panels[r].src;
    root.querySelector('.v-left-label').textContent='\u25C0 '+image.panels[l].label;
    root.querySelector('.v-right-label').textContent=image.panels[r].label+' \u25B6';
    Array.prototype.forEach.call(strip.children,function(f,i){f.classList.toggle('on',i===l||i===r);});
    Array.prototype.forEach.call(scores.tBodies[0]?scores.tBodies[0].rows:[],function(row){
      row.classList.toggle('on-left',row.dataset.label===image.panels[l].label);
      row.classList.toggle('on-right',row.dataset.label===image.panels[r].label);
    });
    wipe();
  }
  function load(){
    var image=current(),keepL=left.value,keepR=right.value;
    left.innerHTML='';right.innerHTML='';strip.innerHTML='';
    image.panels.forEach(function(panel,i){
      option(left,i,panel.label);option(right,i,panel.label);
      var f=document.createElement('figure'),img=document.createElement('img'),c=document.createElement('figcaption');
      img.src=panel.src;img.alt=panel.label;c.textContent=panel.label;f.appendChild(img);f.appendChild(c);
      f.addEventListener('click',function(e){(e.shiftKey?left:right).value=i;show();});
      strip.appendChild(f);
    });
    var n=image.panels.length;
    left.value=keepL!==''&&+keepL<n?keepL:0; right.value=keepR!==''&&+keepR<n?keepR:Math.min(1,n-1);
    var head='<thead><tr><th>panel</th>'+data.metrics.map(function(m){return '<th>'+data.headers[m]+'</th>';}).join('')+'</tr></thead><tbody>';
    var rows=image.panels.filter(function(p){return image.scores[p.label];}).map(function(p){
      var s=image.scores[p.label];
      return '<tr data-label="'+p.label.replace(/"/g,'&quot;')+'"><th>'+p.label.replace(/</g,'&lt;')+'</th>'+data.metrics.map(function(m){return '<td>'+(s[m]===undefined?'':s[m])+'</td>';}).join('')+'</tr>';
    }).join('');
    scores.innerHTML=rows?head+rows+'</tbody>':'';
    show();
  }
  pick.addEventListener('change',load);left.addEventListener('change',show);right.addEventListener('change',show);
  slider.addEventListener('input',wipe);
  var stage=root.querySelector('.compare');
  stage.addEventListener('pointermove',function(e){
    if(!e.buttons)return;var box=stage.getBoundingClientRect();
    slider.value=Math.round(100*(e.clientX-box.left)/box.width);wipe();
  });
  load();
});
})();
